"""Monitoring's HTTP API: routes, request bodies, responses."""
