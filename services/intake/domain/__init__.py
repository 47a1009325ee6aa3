"""The intake service's pure domain: events, commands, decide and evolve (no I/O)."""
