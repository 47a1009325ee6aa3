"""Monitoring's pure rules: events, commands, errors, the case's state, decide, instruments."""
