"""Monitoring's read models: the supervisors' board and the plan drafts it learns from."""
