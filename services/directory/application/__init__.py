"""The directory's application step: load an agency's stream, decide, append."""
