"""No option that does nothing: every CLI option and argument, and every field and
parameter of the admin API, is read by the code it configures.

Both are walks, so an option added tomorrow is checked without touching this file: the CLI
from the Typer app's registered commands (every group, every command, the root callback),
the admin API from every module of ``modelyard.web.admin`` (each route function's
parameters, each request model's fields). A value counts as read when the function's
body loads it (``del wait`` does not), when an eager callback consumes it
(``--version``), or, for a request model's field, when the module reads that attribute or
dumps the model whole.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable, Iterator
from typing import Any, get_args, get_type_hints

import typer
from pydantic import BaseModel

import modelyard.web.admin
from modelyard.cli.main import app

ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete"}
INJECTED = {"request", "response", "background_tasks"}  # the framework's, not the caller's


def loaded_names(function: Callable[..., Any]) -> set[str]:
    """Every name the function's body (nested functions included) reads."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0]
    assert isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef)
    return {
        node.id
        for statement in body.body
        for node in ast.walk(statement)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def cli_callbacks(
    group: typer.Typer, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every function behind the CLI: the group callbacks and the commands, by path."""
    if group.registered_callback is not None and group.registered_callback.callback:
        yield " ".join(path) or "modelyard", group.registered_callback.callback
    for command in group.registered_commands:
        assert command.callback is not None
        yield " ".join((*path, command.name or command.callback.__name__)), command.callback
    for sub in group.registered_groups:
        assert sub.typer_instance is not None and sub.name is not None
        yield from cli_callbacks(sub.typer_instance, (*path, sub.name))


def consumed_by_callback(function: Callable[..., Any], name: str) -> bool:
    """True for an option with a callback of its own (``--version``): the callback reads it."""
    hint = get_type_hints(function, include_extras=True).get(name)
    return any(getattr(meta, "callback", None) for meta in get_args(hint)[1:])


def test_the_walk_finds_the_cli() -> None:
    found = dict(cli_callbacks(app))
    assert {"modelyard", "train", "models register", "endpoints create"} <= set(found)


def test_every_cli_option_is_read() -> None:
    unread = []
    for path, function in cli_callbacks(app):
        read = loaded_names(function)
        for name in inspect.signature(function).parameters:
            if name not in read and not consumed_by_callback(function, name):
                unread.append(f"{path}: {name}")
    assert unread == []


def admin_modules() -> Iterator[Any]:
    """Every module of the admin API package."""
    for info in pkgutil.iter_modules(modelyard.web.admin.__path__):
        yield importlib.import_module(f"modelyard.web.admin.{info.name}")


def routes(module: Any) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The route functions of a module: those decorated ``@api.get(...)`` and alike."""
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ROUTE_DECORATORS:
                    yield node


def test_the_walk_finds_the_admin_api() -> None:
    found = {node.name for module in admin_modules() for node in routes(module)}
    assert len(found) > 20


def test_every_admin_route_parameter_is_read() -> None:
    unread = []
    for module in admin_modules():
        for node in routes(module):
            read = {
                n.id
                for statement in node.body
                for n in ast.walk(statement)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
            }
            arguments = [*node.args.args, *node.args.kwonlyargs]
            for argument in arguments:
                if argument.arg not in read and argument.arg not in INJECTED:
                    unread.append(f"{module.__name__}.{node.name}: {argument.arg}")
    assert unread == []


def test_every_admin_request_field_is_read() -> None:
    unread = []
    for module in admin_modules():
        tree = ast.parse(inspect.getsource(module))
        models = {
            name: cls
            for name, cls in vars(module).items()
            if inspect.isclass(cls)
            and issubclass(cls, BaseModel)
            and cls.__module__ == module.__name__
        }
        outside = [n for n in tree.body if not (isinstance(n, ast.ClassDef) and n.name in models)]
        attributes = {
            n.attr
            for statement in outside
            for n in ast.walk(statement)
            if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)
        }
        for name, cls in models.items():
            if "model_dump" in attributes:  # a model handed on whole: its fields travel
                continue
            for field in cls.model_fields:
                if field not in attributes:
                    unread.append(f"{module.__name__}.{name}.{field}")
    assert unread == []
