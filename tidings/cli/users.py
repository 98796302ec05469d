"""CLI: tidings users create / list / set-password — accounts for the web app."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli import common

app = typer.Typer(help="Web app users (admin | marketer | viewer).", no_args_is_help=True)


def _password(given: str | None) -> str:
    if given is not None:
        return given
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("create")
def create(
    email: Annotated[str, typer.Option(help="login email")],
    role: Annotated[str, typer.Option(help="admin | marketer | viewer")] = "marketer",
    password: Annotated[str | None, typer.Option(help="password (prompted when not given)")] = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
) -> None:
    """Create a user who can log in to the web app."""
    from tidings.application.access.users import ROLES, UserError, create_user

    if role not in ROLES:
        common.fail(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
    c = common.open_container()
    try:
        user = create_user(c.uow(), email, _password(password), role, c.clock.now(), name=name)
    except UserError as exc:
        common.fail(f"{exc.field + ': ' if exc.field else ''}{exc}")
    common.console.print(f"created user {user.id} {user.email} ({user.role})", highlight=False)


@app.command("list")
def list_() -> None:
    """List users (never their password)."""
    from rich.table import Table

    from tidings.application.access.users import list_users

    c = common.open_container()
    table = Table("id", "email", "name", "role", "created", "disabled")
    for u in list_users(c.uow()):
        table.add_row(
            str(u["id"]),
            str(u["email"]),
            str(u["name"]),
            str(u["role"]),
            str(u["created_at"]),
            str(u["disabled_at"] or ""),
        )
    common.console.print(table)


@app.command("set-password")
def set_password_cmd(
    email: Annotated[str, typer.Option(help="the user's email")],
    password: Annotated[str | None, typer.Option(help="new password (prompted when not given)")] = None,
) -> None:
    """Set a user's password; every session of that user ends."""
    from tidings.application.access.users import UserError, set_password

    c = common.open_container()
    try:
        user = set_password(c.uow(), email, _password(password), c.clock.now())
    except UserError as exc:
        common.fail(str(exc))
    common.console.print(f"password changed for {user.email}; their sessions have ended", highlight=False)
