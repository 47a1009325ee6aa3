"""The directory service: agencies, departments, services offered, capacity, staff, and the
network's own members. It is the reference service (docs/adding-a-service.md)."""
