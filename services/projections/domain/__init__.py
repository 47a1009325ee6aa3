"""What projections decides without I/O: how far a case has come, and which of an event's
fields an auditor is shown."""
