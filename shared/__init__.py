"""caseline's event kit: envelope, store, relay, consumer, auth, logging and settings."""
