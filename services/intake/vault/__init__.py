"""The intake PII vault: clients' personal details, encrypted per client, erasable by key."""
