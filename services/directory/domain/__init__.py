"""The directory domain: agencies, services, staff and their rules, pure."""
