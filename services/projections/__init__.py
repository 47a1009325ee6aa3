"""The projections service (built in its own issue)."""
