"""Turning results into words and pictures: text, JSON, GitHub annotations, Mermaid and dot, the
next step to suggest, and operating-system errors as one paragraph.

May import: ``migfix.db`` and the layers below it. Never click.
"""
