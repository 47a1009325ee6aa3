"""Intake's adapters: the PostgreSQL read models and the directory roster projection."""
