"""``flask --app wsgi tokens ...``: create, list and revoke bearer tokens;
``flask --app wsgi idempotency prune``: expire stored Idempotency-Keys; and
``flask --app wsgi snapshots prune``: delete the snapshots the retention rule does not keep."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup

from domain.forces import FORCES
from service.application import IDEMPOTENCY_RETENTION_DAYS
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


idempotency_cli = AppGroup("idempotency", help="Expire stored Idempotency-Keys.")


def retention_days() -> int:
    """``IDEMPOTENCY_RETENTION_DAYS`` from the app's config, else the environment, else 30."""
    configured = current_app.config.get("IDEMPOTENCY_RETENTION_DAYS") or os.environ.get("IDEMPOTENCY_RETENTION_DAYS")
    if configured in (None, ""):
        return IDEMPOTENCY_RETENTION_DAYS
    try:
        days = int(configured)
    except (TypeError, ValueError):
        days = 0
    if days < 1:
        raise click.UsageError(
            f"IDEMPOTENCY_RETENTION_DAYS must be a whole number of days, at least 1, not {configured!r}"
        )
    return days


@idempotency_cli.command("prune")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="Delete keys recorded more than this many days ago (default: IDEMPOTENCY_RETENTION_DAYS, 30)",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True, help="Keys per transaction")
def prune_idempotency_keys(older_than_days: int | None, batch_size: int) -> None:
    """Delete Idempotency-Keys older than the retention, in batches, and print how many.

    A request repeating a deleted key is recorded again: clients must not retry with a key older
    than the retention. Keys stored before the upgrade that dated them count as recorded at the
    upgrade."""
    days = older_than_days or retention_days()
    deleted, cutoff = current_app.extensions["records"].prune_idempotency_keys(days, batch_size=batch_size)
    click.echo(
        f"Deleted {deleted} idempotency key{'' if deleted == 1 else 's'} recorded before {cutoff} "
        f"(older than {days} days)."
    )


snapshots_cli = AppGroup("snapshots", help="Prune aggregate snapshots to the bounded set reads need.")


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


@snapshots_cli.command("prune")
@click.option("--dry-run", is_flag=True, help="Delete nothing; say what would be deleted")
@click.option("--verbose", "-v", is_flag=True, help="Also list each stream's deleted versions")
def prune_snapshots(dry_run: bool, verbose: bool) -> None:
    """Delete the snapshots the retention rule does not keep, stream by stream, and print how many.

    Of each aggregate's snapshots (taken every SNAPSHOT_INTERVAL events) only the latest two and
    those at interval x 2^k are kept; the service prunes a stream each time it snapshots it, so
    this is for a store written before that rule (once), or to see what is kept (--dry-run). It
    runs beside the service: each stream is pruned in a short transaction of its own, and reads
    stay correct throughout (a snapshot is a cache; a read replays the events after an earlier
    one). The space freed is reused by later writes; see docs/operations.md to give it back."""
    records = current_app.extensions["records"]
    report = records.prune_snapshots(dry_run=dry_run)
    if verbose:
        for stream, versions in sorted(report.deleted_versions.items()):
            click.echo(f"{stream}: {'would delete' if dry_run else 'deleted'} versions {', '.join(map(str, versions))}")
    verb = "Would delete" if dry_run else "Deleted"
    click.echo(
        f"{verb} {report.deleted} snapshot{'' if report.deleted == 1 else 's'} ({_mib(report.deleted_bytes)}) of "
        f"{report.streams} stream{'' if report.streams == 1 else 's'}; kept {report.kept} "
        f"({_mib(report.kept_bytes)}): each stream's latest two and those at {records.snapshot_interval} x 2^k."
    )
