"""The closure service (built in its own issue)."""
