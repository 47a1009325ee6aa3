"""The intake service (built in its own issue)."""
