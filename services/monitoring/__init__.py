"""The monitoring service: monitoring, aftercare and evaluation (stages 5 and 6)."""
