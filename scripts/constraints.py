"""Print pip constraints that pin every dependency pyproject.toml declares to its lowest
declared version (``alembic>=1.16`` -> ``alembic==1.16``), markers kept.

The pins stay declared once, in pyproject.toml; ``.ci/minversions`` installs the built wheel
under this output to prove the lower bounds true. A dependency without a ``>=`` lower bound
is an error: its lowest version would be whatever pip finds.

Usage: python scripts/constraints.py [pyproject.toml] > constraints.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra has tomli on 3.10
    import tomli as tomllib

# name[extras] >= version [, more] [; marker]
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*"
    r">=\s*(?P<low>[^,;\s]+)(?:\s*,[^;]*)?\s*(?:;\s*(?P<marker>.+))?$"
)


def constraints(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    lines = []
    for requirement in data["project"]["dependencies"]:
        found = _REQUIREMENT.match(requirement)
        if found is None:
            raise SystemExit(
                f"{pyproject}: dependency {requirement!r} has no `>=` lower bound; declare the "
                "lowest version migfix works with."
            )
        line = f"{found['name']}=={found['low']}"
        if found["marker"]:
            line += f"; {found['marker'].strip()}"
        lines.append(line)
    return lines


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "pyproject.toml"
    print("\n".join(constraints(path)))
