"""migfix: find and fix Alembic "multiple heads" problems without importing migrations."""

__version__ = "0.1.0"
