"""HTTP layer: routers per resource, encodings, error handlers."""
