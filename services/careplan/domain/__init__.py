"""Careplan's pure rules: events, commands, errors, the plan's state and decide."""
