"""``migfix.pytest_plugin``: the name users' pytest configurations and the ``pytest11`` entry
point use; the plugin itself is :mod:`migfix.cli.pytest_plugin`."""

from migfix.cli.pytest_plugin import *  # noqa: F403
