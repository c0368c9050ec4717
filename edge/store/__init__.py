"""The edge's SQLite database: schema migrations and the single thread that touches it."""

from edge.store.database import Store, open_database
from edge.store.transaction import transaction

__all__ = ["Store", "open_database", "transaction"]
