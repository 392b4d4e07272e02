"""Changing files: lossless libcst edits, the transaction (journal, lock, atomic replace) and the
journal of moves.

May import: ``migfix.plan`` and the layers below it.
"""
