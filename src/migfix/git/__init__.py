"""Everything migfix asks of git: one module runs git, with one environment policy.

May import: ``migfix.errors``.
"""
