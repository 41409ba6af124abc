"""The CLI as a tree: every leaf command with its path, walked from the Typer app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer

from modelyard.cli.main import app


def commands() -> Iterator[tuple[list[str], Any]]:
    """Every leaf command of ``modelyard`` (Click's command objects) with its path,
    ``(["models", "show"], command)``; groups are walked, not yielded."""
    root = typer.main.get_command(app)
    context_type = type(typer.Context(root))  # Typer's (vendored) Click context

    def walk(command: Any, path: list[str], ctx: Any) -> Iterator[tuple[list[str], Any]]:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                yield from walk(sub, [*path, name], context_type(sub, parent=ctx))
        else:
            yield path, command

    yield from walk(root, [], context_type(root))


def is_argument(param: Any) -> bool:
    """True for a positional argument, False for an option."""
    return bool(param.param_type_name == "argument")
