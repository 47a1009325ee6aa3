"""What the template keeps in PostgreSQL beside its event store: its read model."""
