"""The projections service: one read-only view of each case across every service (its journey
and timeline), each agency's dashboard and the network's figures, built from the events every
service publishes. It records no events of its own."""
