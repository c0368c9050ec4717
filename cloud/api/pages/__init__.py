"""The few HTML pages the API serves itself."""
