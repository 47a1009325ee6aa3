"""The monitoring service (built in its own issue)."""
