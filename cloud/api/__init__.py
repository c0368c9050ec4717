"""The cloud's HTTP layer: FastAPI routes, the envelope and the app factory."""
