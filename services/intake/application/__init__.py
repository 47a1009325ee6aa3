"""Intake's use cases: orchestration of the event store, the vault and the read models."""
