"""Everything migfix asks of git. ``gitops`` starts every git process, with one environment
policy; ``history`` (what commits hold), ``commits`` (commits and pushes migfix makes),
``remotes`` (remote-tracking branches) and ``trees`` (another commit's files, through
GitPython) ask through it.

May import: ``migfix.errors``.
"""
