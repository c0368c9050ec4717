"""Background sync of the edge's facts and originals to the cloud API."""
