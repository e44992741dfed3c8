"""Configuration: command-line values, then WIJKKOMPAS_* environment variables, then a TOML file.

Read once, by the command line, and handed to what needs it; engine modules never read the
environment themselves. Every setting can be given in all three places; the first that has it
wins. A bad value fails loudly, naming the setting, where it came from and what is allowed.

TOML file (``--config`` / WIJKKOMPAS_CONFIG)::

    db = "postgresql://wijkkompas@db.gemeente.nl/wijkkompas"
    sqlite_synchronous = "FULL"      # OFF, NORMAL, FULL, EXTRA
    actor = "j.jansen"
    workflows = ["/etc/wijkkompas/workflows"]
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import InvalidValue

__all__ = ["ENV_PREFIX", "Settings"]

ENV_PREFIX = "WIJKKOMPAS_"
DEFAULT_DB = "sqlite:///wijkkompas.db"
_CHOICES: dict[str, tuple[str, ...]] = {
    "sqlite_synchronous": ("OFF", "NORMAL", "FULL", "EXTRA"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    db: str = DEFAULT_DB
    """Database URL: sqlite:///FILE (default: wijkkompas.db here) or postgresql://..."""
    sqlite_synchronous: str = "FULL"
    """SQLite durability: FULL survives a power cut; NORMAL is faster and may lose the last
    transactions on a power cut (never on a crash of wijkkompas itself)."""
    actor: str | None = None
    """Who is recorded as doing things when --by is not given (default: the OS user)."""
    workflows: tuple[str, ...] = field(default=())
    """Extra workflow directories, searched before ./workflows and the shipped ones."""
    source: Mapping[str, str] = field(default_factory=dict)
    """Where each setting came from, for messages."""

    @classmethod
    def load(
        cls,
        *,
        cli: Mapping[str, Any],
        env: Mapping[str, str],
        config_file: str | None = None,
    ) -> Settings:
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        file_values: dict[str, Any] = {}
        if path:
            file_values = _read_toml(Path(path))
        names = [f.name for f in fields(cls) if f.name != "source"]
        unknown = sorted(set(file_values) - set(names))
        if unknown:
            raise InvalidValue(
                f"setting in {path}", ", ".join(unknown), "known settings: " + ", ".join(names)
            )
        values: dict[str, Any] = {}
        source: dict[str, str] = {}
        for name in names:
            env_name = ENV_PREFIX + name.upper()
            if cli.get(name) not in (None, ()):
                values[name], source[name] = cli[name], "command line"
            elif env.get(env_name):
                raw: Any = env[env_name]
                if name == "workflows":
                    raw = tuple(p for p in raw.split(os.pathsep) if p)
                values[name], source[name] = raw, env_name
            elif name in file_values:
                values[name], source[name] = file_values[name], f"{path}"
        for name, value in values.items():
            values[name] = _check(name, value, source[name])
        return cls(**values, source=source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise InvalidValue("configuration file", str(path), "no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue("configuration file", str(path), f"not valid TOML: {exc}") from None


def _check(name: str, value: Any, origin: str) -> Any:
    if name == "workflows":
        if isinstance(value, str):
            value = (value,)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise InvalidValue(f"'{name}' (from {origin})", value, "a list of directories")
        return tuple(value)
    if not isinstance(value, str):
        raise InvalidValue(f"'{name}' (from {origin})", value, "text")
    if name in _CHOICES:
        upper = value.upper()
        if upper not in _CHOICES[name]:
            raise InvalidValue(
                f"'{name}' (from {origin})", value, "one of " + ", ".join(_CHOICES[name])
            )
        return upper
    return value
