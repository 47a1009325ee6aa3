"""Where Kafka and PostgreSQL come from: the local no-Docker runners, and the picker tests use."""
