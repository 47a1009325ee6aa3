"""Monitoring's orchestration: the command path with vault writes, learning, the scheduler."""
