"""The projections service: cross-service read models and the auditors' queries. Not built
yet: without a bootstrap, `caseline serve` does not offer it."""
