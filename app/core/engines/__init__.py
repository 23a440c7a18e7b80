"""One module per engine family; each exposes registry entries built from ``app.core.spec``."""
