"""Database engines, the declarative base and migrations, for SQLite and PostgreSQL alike."""
