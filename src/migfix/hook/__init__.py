"""The git hooks: installing them, and what the installed hook does after ``git merge`` /
``git pull`` / ``git rebase``.

May import: ``migfix.commands`` and the layers below it.
"""
