"""``modelyard users …``: people with roles, their personal tokens, and the audit log.

Tokens are shown once; use one as ``Authorization: Bearer <token>`` on the admin API, to
log in to the Studio, or as ``MODELYARD_TOKEN`` so that the CLI and SDK record you as the
person behind each promotion, run and key change."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from modelyard.cli.context import console, state
from modelyard.cli.render import when
from modelyard.types import Role

users_app = typer.Typer(
    help="Users with roles (viewer, scientist, approver, admin) and their tokens.",
    no_args_is_help=True,
)
ROLES = ", ".join(r.value for r in Role)


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name (as events will show it).")],
    role: Annotated[str, typer.Option(help=f"One of {ROLES}.")] = "viewer",
    token: Annotated[bool, typer.Option(help="Also issue a first token.")] = True,
) -> None:
    """Add a user (and issue them a first token, shown once)."""
    with state.open() as ws:
        actor = ws.registry.who(None)
        user = ws.people.add(name, role, actor=actor)
        console.print(f"Added {user.name} as {user.role.value}")
        if token:
            _, secret = ws.people.issue_token(name, "first", actor=actor)
            console.print(f"  token: {secret}")
            console.print("[dim]Tokens are stored hashed: hand it over now.[/]")


@users_app.command("list")
def list_users() -> None:
    """List the users with their roles and tokens."""
    with state.open() as ws:
        users = ws.people.list()
        tokens = {u.name: ws.people.tokens(u.name) for u in users}
    if not users:
        console.print("No user yet: `modelyard users add NAME --role scientist` adds one.")
        return
    table = Table(title="Users")
    for column in ("name", "role", "state", "active tokens", "created (UTC)", "by"):
        table.add_column(column)
    for user in users:
        active = sum(t.active for t in tokens[user.name])
        state_text = "disabled" if user.disabled else "enabled"
        table.add_row(
            user.name,
            user.role.value,
            state_text,
            str(active),
            when(user.created_at),
            user.created_by,
        )
    console.print(table)


@users_app.command("role")
def set_role(
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help=f"One of {ROLES}.")],
) -> None:
    """Change a user's role (their Studio sessions end)."""
    with state.open() as ws:
        user = ws.people.set_role(name, role, actor=ws.registry.who(None))
    console.print(f"{user.name} is now {user.role.value}")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Disable a user: their tokens and sessions stop working."""
    with state.open() as ws:
        ws.people.set_disabled(name, True, actor=ws.registry.who(None))
    console.print(f"{name} is disabled")


@users_app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Enable a disabled user again."""
    with state.open() as ws:
        ws.people.set_disabled(name, False, actor=ws.registry.who(None))
    console.print(f"{name} is enabled")


@users_app.command("token")
def issue(
    name: Annotated[str, typer.Argument(help="The user.")],
    label: Annotated[str, typer.Option(help="What it is for (laptop, ci).")] = "",
) -> None:
    """Issue a personal token (shown once)."""
    with state.open() as ws:
        token, secret = ws.people.issue_token(name, label, actor=ws.registry.who(None))
    console.print(f"Token {token.id} ({token.label}) for {name}: {secret}")
    console.print("[dim]Tokens are stored hashed: copy it now.[/]")


@users_app.command("tokens")
def tokens(name: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """List a user's tokens (never the tokens themselves)."""
    with state.open() as ws:
        ws.people.get(name)  # a user there is not is an error, not an empty table
        found = ws.people.tokens(name)
    table = Table(title=f"Tokens of {name}")
    for column in ("id", "label", "issued (UTC)", "last used", "state"):
        table.add_column(column)
    for token in found:
        used = when(token.last_used_at) if token.last_used_at else "-"
        state_text = "active" if token.active else "revoked"
        table.add_row(token.id, token.label, when(token.created_at), used, state_text)
    console.print(table)


@users_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    token_id: Annotated[str, typer.Argument(help="The token's id (`modelyard users tokens`).")],
) -> None:
    """Revoke a token: it opens nothing from now on."""
    with state.open() as ws:
        ws.people.revoke_token(name, token_id, actor=ws.registry.who(None))
    console.print(f"Token {token_id} of {name} revoked")


@users_app.command("whoami")
def whoami() -> None:
    """Who the CLI acts as: the holder of MODELYARD_TOKEN, else the OS user."""
    with state.open() as ws:
        person = ws.person
        console.print(
            f"{person.name} ({person.role.value})"
            if person
            else f"{ws.registry.who(None)} (OS user)"
        )


@users_app.command("audit")
def audit(limit: Annotated[int, typer.Option(help="How many entries.")] = 50) -> None:
    """Who did what: key changes, schedules, users and tokens (newest first)."""
    with state.open() as ws:
        entries = ws.people.history(limit=limit)
    table = Table(title="Audit log")
    for column in ("when (UTC)", "who", "action", "on", "details"):
        table.add_column(column)
    for entry in entries:
        details = " ".join(f"{k}={v}" for k, v in entry.details.items())
        table.add_row(when(entry.created_at), entry.actor, entry.action, entry.subject, details)
    console.print(table)
