"""The project: which Alembic config, which version locations, and which projects a repository
holds.

May import: ``migfix.git`` and ``migfix.errors``.
"""
