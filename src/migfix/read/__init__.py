"""Reading, never importing: revision files scanned statically (from the work tree or a git tree),
their cache, loadability, and the revision graph with its problems.

May import: ``migfix.project``, ``migfix.git``, ``migfix.errors``. Never alembic, SQLAlchemy or
libcst.
"""
