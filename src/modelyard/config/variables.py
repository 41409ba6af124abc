"""``${VAR}`` and ``${VAR:-default}`` in ``modelyard.toml``, expanded from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelyard.errors import ConfigError

_VAR_RE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_vars(value: str, env: Mapping[str, str], where: str = "") -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def replace(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if name in env:
            return env[name]
        if default is not None:
            return default
        place = f" in {where}" if where else ""
        raise ConfigError(
            f"environment variable {name} is not set{place}: "
            f"export it or write ${{{name}:-default}}"
        )

    return _VAR_RE.sub(replace, value)


def expand_tree(node: Any, env: Mapping[str, str], where: str) -> Any:
    """Expand ``${VAR}`` in every string of a parsed TOML document."""
    if isinstance(node, str):
        return expand_vars(node, env, where)
    if isinstance(node, dict):
        return {k: expand_tree(v, env, f"{where}.{k}" if where else k) for k, v in node.items()}
    if isinstance(node, list):
        return [expand_tree(v, env, where) for v in node]
    return node
