"""The template's pure rules: events, commands, errors, state, decide and evolve (no I/O)."""
