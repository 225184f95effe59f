"""Durable state: SQLAlchemy models, the engine, queries and Alembic migrations."""
