"""One function per verb, without click: plan, write, report, return an exit code.

May import: ``migfix.report`` and the layers below it.
"""
