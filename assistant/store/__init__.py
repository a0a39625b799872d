"""SQLAlchemy models and stores (sessions, feedback, learning records)."""
