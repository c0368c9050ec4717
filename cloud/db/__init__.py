"""The cloud's database: tables, engine and migrations."""
