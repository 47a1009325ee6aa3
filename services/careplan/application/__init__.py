"""Careplan's command handlers: one unit of work per command."""
