"""``flask --app wsgi backup create|restore|verify``: back the record store up, restore it, and
check a restored log against the checkpoints kept outside it (``service/backup.py``).

As with the ``audit`` commands, the answer is JSON on the last line of standard output, and
messages and progress go to standard error. ``restore`` and ``verify`` exit with 0 when the
restored log verifies and holds every kept checkpoint, 1 when it does not (or the restore was
refused or failed), and 2 when a checkpoint file given is unreadable, its signature does not
verify, or there is no key to check it with.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from service import backup
from service.audit.checkpoints import SigningKeyMissing
from service.audit.cli import NOT_OK, CheckpointRejected, _json, _note
from service.audit.configuration import audit_trail, trusted_public_key

backup_cli = AppGroup(
    "backup",
    help="Back up and restore the record store; check a restored log against checkpoints kept outside it.",
)

def _records() -> Any:
    return current_app.extensions["records"]


@backup_cli.command("create")
@click.argument("destination", metavar="DEST", type=click.Path(dir_okay=False, path_type=Path))
def create(destination: Path) -> None:
    """Back the record store up to the file DEST (never overwritten), while the service runs.

    SQLite: the event store file, by SQLite's online backup API (a consistent snapshot; writers
    go on); the projections are rebuilt on restore, not backed up. PostgreSQL: the store's
    schema, by pg_dump --format=custom (on PATH). Beside DEST it writes DEST.manifest.json: the
    file's SHA-256 and the log's head in it. Prints the manifest as the last line."""
    try:
        manifest = backup.create_backup(_records(), destination)
    except backup.BackupRefused as error:
        raise click.ClickException(str(error)) from None
    log = manifest["log"]
    _note(
        f"Backed up a log of {log['size']} events (head at position {log['head_position']}, Merkle root "
        f"{log['root_hash']}) to {destination}; manifest {backup.manifest_path(destination)}."
    )
    if manifest.get("checkpoint") is None:
        _note("The store holds no checkpoint yet: sign one (flask audit checkpoint --out FILE) and keep it elsewhere.")
    click.echo(_json(manifest))


def checkpoint_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--checkpoint FILE... and how their signatures are checked."""
    command = click.option(
        "--trust-embedded-key",
        "trust_embedded_key",
        is_flag=True,
        default=False,
        help="With neither --public-key nor a configured signing key: check a checkpoint's JSON with the key it "
        "names itself, and take a signed note unchecked. That proves nothing about who signed them.",
    )(command)
    command = click.option(
        "--public-key",
        "public_key",
        default=None,
        help="The log's base64 Ed25519 public key to check signed checkpoints with (default: the configured "
        "signing key's).",
    )(command)
    return click.option(
        "--checkpoint",
        "checkpoint_files",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="A checkpoint kept OUTSIDE the store (repeatable): `audit checkpoint --out` files, the JSON of "
        "GET /api/v1/audit/checkpoint(s), the signed note of GET /api/v1/audit/checkpoint/note, a witness's "
        "state file, or a later backup's manifest. The restored log must hold every one.",
    )(command)


def _key_policy(public_key: str | None, trust_embedded_key: bool) -> backup.KeyPolicy:
    try:
        trusted = trusted_public_key(public_key)
    except SigningKeyMissing as error:
        raise click.ClickException(str(error)) from None
    if trusted is None:
        return backup.KeyPolicy(trust_embedded=trust_embedded_key)
    return backup.KeyPolicy(trusted_key=trusted[0], trusted_from=trusted[1])


def _kept(files: tuple[Path, ...], keys: backup.KeyPolicy) -> list[backup.KeptCheckpoint]:
    kept = []
    for path in files:
        try:
            kept.extend(backup.read_kept_checkpoints(path, keys))
        except backup.CheckpointUnreadable as error:
            raise CheckpointRejected(str(error)) from None
    return kept


def _check(kept: list[backup.KeptCheckpoint], keys: backup.KeyPolicy) -> backup.RestoreCheck:
    trail = audit_trail()
    total = trail.log_count()
    with click.progressbar(length=total, label=f"Verifying {total} events", file=sys.stderr) as bar:
        shown = 0

        def progress(checked: int) -> None:
            nonlocal shown
            bar.update(checked - shown)
            shown = checked

        return backup.check_restored(trail, kept, keys, progress=progress)


def _report(check: backup.RestoreCheck, kept_outside: int) -> None:
    """The outcome on standard error, the report JSON last on standard output; exit 1 if not OK."""
    if check.ok:
        _note(
            f"OK: the log's {check.log.size} events verify (hash chain and Merkle tree), and it holds every kept "
            f"checkpoint ({len(check.findings)}, of which {kept_outside} given with --checkpoint)."
        )
        if not kept_outside:
            _note(
                "No checkpoint kept outside the store was given (--checkpoint): a restore that lost events together "
                "with the checkpoints covering them would verify too. Compare with your latest checkpoint file, "
                "the witnesses' state, or a later backup's manifest."
            )
    else:
        _note("NOT OK:")
        for problem in check.failures():
            _note(f"- {problem}")
    click.echo(_json(check.as_report()))
    if not check.ok:
        click.get_current_context().exit(NOT_OK)


@backup_cli.command("restore")
@click.argument("source", metavar="SRC", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a store that is not empty: everything in it (events, tokens, checkpoints) is lost.",
)
@click.option(
    "--no-rebuild",
    "no_rebuild",
    is_flag=True,
    help="Do not rebuild the projections after the restore (run `flask projections rebuild` before serving).",
)
@checkpoint_options
def restore(
    source: Path,
    force: bool,
    no_rebuild: bool,
    checkpoint_files: tuple[Path, ...],
    public_key: str | None,
    trust_embedded_key: bool,
) -> None:
    """Restore the backup SRC into the configured store, then verify it. STOP THE SERVICE FIRST
    (web workers, projection followers, cron jobs): nothing may write while it runs.

    Refuses a store that is not empty unless --force. Checks SRC against SRC.manifest.json where
    there is one (its SHA-256), restores (SQLite: the online backup API into the store's file;
    PostgreSQL: pg_restore --single-transaction --clean into the schema that was dumped), walks
    the whole restored log, and compares it with the backup's manifest, the checkpoints kept
    in it and each --checkpoint kept outside it. Then, if it verifies, rebuilds the projections.
    Exit status: 0 restored and verified; 1 refused, failed or does not verify; 2 a --checkpoint
    is unreadable or its signature does not verify."""
    keys = _key_policy(public_key, trust_embedded_key)
    kept = _kept(checkpoint_files, keys)
    manifest_file = backup.manifest_path(source)
    records = _records()
    try:
        manifest = backup.read_manifest(manifest_file) if manifest_file.exists() else None
        if manifest is None:
            _note(f"Warning: no manifest {manifest_file}: the backup file cannot be checked before it is restored.")
        store = backup.restore_backup(records, source, force=force, manifest=manifest)
    except backup.BackupRefused as error:
        raise click.ClickException(str(error)) from None
    where = store.path if isinstance(store, backup.SQLiteStore) else f"schema {store.schema} of {store.dbname}"
    _note(f"Restored {source} into {where}.")
    check = _check(kept, keys)
    if manifest is not None:
        backup.check_matches_manifest(audit_trail(), check, manifest, f"{manifest_file}")
    if check.ok and not no_rebuild:
        from projections.cli import current_projections, rebuild_one

        for projection in current_projections():
            rebuild_one(projection)
    elif not check.ok:
        _note(
            "The restored store does NOT verify: do not start the service on it. The projections were not rebuilt. "
            "Restore a later backup, or investigate with `flask audit verify`."
        )
    _report(check, len(kept))


@backup_cli.command("verify")
@checkpoint_options
def verify(checkpoint_files: tuple[Path, ...], public_key: str | None, trust_embedded_key: bool) -> None:
    """Verify the store (after a restore): walk the whole log (hash chain and Merkle tree, as
    `audit verify`), compare it with the checkpoints kept in it, and with each --checkpoint kept
    OUTSIDE it. A log shorter than a kept checkpoint lost the events between, which are named;
    one with another root or head hash at a checkpoint's size is not the history that was
    checkpointed.

    Exit status: 0 OK; 1 not OK (the report names each problem); 2 a --checkpoint is unreadable
    or its signature does not verify."""
    keys = _key_policy(public_key, trust_embedded_key)
    kept = _kept(checkpoint_files, keys)
    _report(_check(kept, keys), len(kept))
