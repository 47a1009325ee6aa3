"""Careplan's HTTP API: routes, request bodies, responses."""
