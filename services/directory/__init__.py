"""The directory service (built in its own issue)."""
