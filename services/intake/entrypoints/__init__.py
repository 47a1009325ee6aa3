"""Intake's entrypoints: the HTTP API (its consumer is wired in bootstrap)."""
