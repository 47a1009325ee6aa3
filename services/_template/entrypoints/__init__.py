"""The template's HTTP API: routes, request schemas, response views."""
