"""Databases: ``verify`` on a scratch database, the dialect a project runs on, the embedded
PostgreSQL server, and ``db status`` / ``db sync`` after a move.

May import: ``migfix.write`` and the layers below it.
"""
