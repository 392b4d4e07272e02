"""Reading pyproject.toml: the TOML reader every config module shares, and ``[tool.migfix]``
(migfix's own settings), validated into :class:`Settings`."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from migfix.errors import ConfigError
from migfix.project.model import Settings

STRATEGIES = ("merge", "rebase")
_MIGFIX_KEYS = (
    "upstream",
    "strategy",
    "commit",
    "message",
    "allow_heads",
    "lock",
    "pytest",
    "sync_db",
)


def read_toml(path: Path) -> dict[str, Any]:
    # tomllib is stdlib from 3.11; tomli is its backport (a dependency only there).
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
            return data
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read it as TOML: it is not UTF-8 (byte {exc.start}), and TOML "
            "files must be. Save it as UTF-8."
        ) from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as TOML ({exc}). Fix the file.") from exc


def find_settings(start: Path) -> Settings:
    for d in (start, *start.parents):
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            return settings_from(read_toml(pyproject), pyproject)
        if (d / ".git").exists():
            break
    return Settings()


def settings_from(data: Mapping[str, Any], path: Path) -> Settings:
    tool = data.get("tool", {})
    raw = tool.get("migfix") if isinstance(tool, dict) else None
    if raw is None:
        # The defaults, but from this file: adding [tool.migfix] to it changes them.
        return Settings(source=path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [tool.migfix] must be a table.")
    return parse_settings(raw, path)


def parse_settings(raw: Mapping[str, Any], path: Path | None) -> Settings:
    """Validate ``[tool.migfix]``; unknown keys and bad values are configuration errors."""
    where = f"{path}: [tool.migfix]" if path else "[tool.migfix]"
    for key in raw:
        if key not in _MIGFIX_KEYS:
            raise ConfigError(
                f"{where} has an unknown key '{key}'. Allowed keys: {', '.join(_MIGFIX_KEYS)}."
            )
    # Checked in the order the keys are documented: the first bad one is the one reported.
    upstream = _upstream(raw, where)
    strategy = raw.get("strategy", "merge")
    if strategy not in STRATEGIES:
        raise ConfigError(f'{where} strategy = {strategy!r}: allowed values are "merge", "rebase".')
    commit = _flag(raw, "commit", where)
    message = raw.get("message", "merge heads")
    if not isinstance(message, str) or not message.strip():
        raise ConfigError(f"{where} message must be a non-empty string.")
    allow_heads = _allow_heads(raw, where)
    run_in_pytest = _flag(raw, "pytest", where)
    lock = _flag(raw, "lock", where)
    sync_db = _flag(raw, "sync_db", where)
    return Settings(
        sync_db=sync_db,
        upstream=upstream,
        strategy=strategy,
        commit=commit,
        message=message,
        allow_heads=allow_heads,
        pytest=run_in_pytest,
        lock=lock,
        source=path,
    )


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where} {key} = {value!r}: allowed values are true, false.")
    return value


def _upstream(raw: Mapping[str, Any], where: str) -> str | None:
    upstream = raw.get("upstream")
    if upstream is None:
        return None
    if not isinstance(upstream, str) or not upstream:
        raise ConfigError(f'{where} upstream must be a git ref name such as "origin/main".')
    if upstream.startswith("-") or any(c.isspace() or not c.isprintable() for c in upstream):
        # git would read "-rf" as an option; no ref name holds white space.
        raise ConfigError(
            f"{where} upstream = {upstream!r} is not a git ref name (it starts with '-' or "
            'holds white space). Use a ref such as "origin/main".'
        )
    return upstream


def _allow_heads(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    allow = raw.get("allow_heads", [])
    if (
        isinstance(allow, str)
        or not isinstance(allow, list)
        or not all(isinstance(x, str) for x in allow)
    ):
        raise ConfigError(
            f'{where} allow_heads must be a list of revision ids, e.g. ["ab12", "cd34"].'
        )
    return tuple(allow)
