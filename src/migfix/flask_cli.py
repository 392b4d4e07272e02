"""``flask migfix ...``: migfix's commands inside a Flask app's CLI."""

from __future__ import annotations

from migfix.cli import cli

migfix_group = cli
