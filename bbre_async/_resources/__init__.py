"""API resources: namespaces of calls grouped as the API groups its endpoints."""
