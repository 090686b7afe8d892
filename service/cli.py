"""``flask --app wsgi tokens ...``: create, list and revoke bearer tokens."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from domain.forces import FORCES
from service.auth import ROLES, InvalidTokenRequest, TokenStore

tokens_cli = AppGroup("tokens", help="Create, list and revoke API bearer tokens.")


def _store() -> TokenStore:
    return current_app.extensions["tokens"]


@tokens_cli.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin, force (bound to --force) or auditor")
@click.option("--force", type=click.Choice(sorted(FORCES)), default=None, help="The force a force token acts as")
@click.option("--name", required=True, help="Whose token this is, e.g. 'J Smith, West Mercia finance'")
def create_token(role: str, force: str | None, name: str) -> None:
    """Create a token. It is printed once, as the last line; only its hash is stored."""
    try:
        record, token = _store().create(name=name, role=role, force=force)
    except InvalidTokenRequest as error:
        raise click.UsageError(str(error)) from None
    bound = f" for {record.force}" if record.force else ""
    click.echo(f"Created {record.role} token {record.id}{bound} named {record.name!r}.")
    click.echo("Store it now: it is shown only this once.")
    click.echo(token)


@tokens_cli.command("list")
def list_tokens() -> None:
    """List tokens (never the tokens themselves)."""
    records = _store().list()
    if not records:
        click.echo("No tokens.")
        return
    columns = ("id", "name", "role", "force", "created_at", "revoked_at")
    rows = [[getattr(record, column) or "-" for column in columns] for record in records]
    widths = [max(len(column), *(len(str(row[index])) for row in rows)) for index, column in enumerate(columns)]
    click.echo("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(str(value).ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


@tokens_cli.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a token by its id. It stops working at once, in every worker."""
    record = _store().revoke(token_id)
    if record is None:
        raise click.ClickException(f"no token with id {token_id!r}; `tokens list` shows the ids")
    click.echo(f"Revoked token {record.id} ({record.name}) at {record.revoked_at}.")
