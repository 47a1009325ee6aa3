"""The careplan service (built in its own issue)."""
