"""Alembic migrations of the cloud database (append-only once released)."""
