"""Intake's client records on the kit's vault: sealed details, and the duplicate index."""
