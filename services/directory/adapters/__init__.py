"""The directory's adapters: the PostgreSQL read model and its projector."""
