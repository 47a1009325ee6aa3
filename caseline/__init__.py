"""The layer above the services: the `caseline` command, the demo, benchmarks, local stack."""
