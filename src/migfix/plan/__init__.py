"""Deciding what to change: settled and new revisions, merge and rebase plans, the graph a merge
with another ref would give, overlap between sides, the heads lock.

May import: ``migfix.read`` and the layers below it.
"""
