"""``flask --app wsgi audit ...``: the signing key, checkpoints, verification and the one-off
migration that chains events stored before the hash chain existed.

Every command that answers with JSON prints it as its last line of standard output; messages
and the progress bar go to standard error, so ``... | tail -n 1`` (or ``jq``) reads the answer.
``audit verify`` exits with 0 when the log verifies, 1 when it does not, and 2 when the
checkpoint it was asked to check against is unreadable, its signature does not verify, or
there is no key to check it with (no ``--public-key``, no configured signing key and no
``--trust-embedded-key``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from service.audit import notes
from service.audit.checkpoints import (
    KEY_FILE_VARIABLE,
    Checkpoint,
    CheckpointInvalid,
    SigningKeyMissing,
    default_origin,
    load_signing_key,
    public_key_text,
    write_key_file,
)
from service.audit.configuration import EMBEDDED, audit_trail, log_origin, signing_key, trusted_public_key
from service.audit.trail import LogDoesNotVerify
from service.audit.tree import EventNotChained, LogTree, SizesOutOfOrder, TreeIncomplete
from service.persistence import ChainBroken

audit_cli = AppGroup(
    "audit",
    help="Verify the hash-chained event log; make and check signed checkpoints; Merkle tree heads and proofs.",
)

NOT_OK = 1
CHECKPOINT_REJECTED = 2
DEFAULT_KEY_FILE = "audit-signing-key.pem"  # in the instance folder


class CheckpointRejected(click.ClickException):
    exit_code = CHECKPOINT_REJECTED


def _json(data: object) -> str:
    return json.dumps(data, sort_keys=True)


def _note(message: str) -> None:
    click.echo(message, err=True)


@audit_cli.command("keygen")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the key (default: instance/{DEFAULT_KEY_FILE}). An existing file is never overwritten.",
)
def keygen(out: Path | None) -> None:
    """Make an Ed25519 signing key for checkpoints, in a file readable only by its owner."""
    path = (out or Path(current_app.instance_path) / DEFAULT_KEY_FILE).resolve()
    try:
        write_key_file(path)
    except FileExistsError as error:
        raise click.ClickException(str(error)) from None
    public_key = public_key_text(load_signing_key({KEY_FILE_VARIABLE: str(path)}).public_key())
    click.echo(f"Wrote a new Ed25519 signing key to {path} (mode 600).")
    click.echo("Keep it secret, and out of the database and its backups.")
    click.echo(f"Public key (give it to auditors, to check checkpoints with --public-key): {public_key}")
    click.echo("Configure the service (web workers and this command) with:")
    click.echo(f"  export {KEY_FILE_VARIABLE}={path}")


@audit_cli.command("vkey")
def vkey() -> None:
    """Print the log's C2SP verifier key: the origin and the configured signing key's public key.

    Give it to the forces' witnesses (`collab-witness --log-key`) and to auditors
    (`collab-verify --log-key`), out of band."""
    try:
        key = signing_key()
    except SigningKeyMissing as error:
        raise click.ClickException(str(error)) from None
    origin = log_origin() or default_origin(key.public_key())
    click.echo(notes.Verifier.of(origin, key.public_key()).vkey)


@audit_cli.command("checkpoint")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save the checkpoint JSON to this file (never overwritten).",
)
def checkpoint(out: Path | None) -> None:
    """Sign the log's current head with the configured key and keep the checkpoint.

    Events not yet chained are chained first and the whole log is verified: a log that does
    not verify gets no checkpoint. Prints the checkpoint JSON as the last line."""
    try:
        key = signing_key()
    except SigningKeyMissing as error:
        raise click.ClickException(str(error)) from None
    try:
        made = audit_trail().make_checkpoint(key, log_origin())
    except notes.NoteError as error:
        raise click.ClickException(f"AUDIT_LOG_ORIGIN is not a valid key name: {error}") from None
    except LogDoesNotVerify as error:
        raise click.ClickException(str(error)) from None
    text = _json(made.as_dict())
    if out is not None:
        try:
            with out.open("x") as file:
                file.write(text + "\n")
        except FileExistsError:
            raise click.ClickException(f"{out} exists; refusing to overwrite it (the checkpoint is kept)") from None
        _note(f"Saved the checkpoint to {out}.")
    _note(f"Checkpoint of {made.size} events, head at position {made.head_position}, signed at {made.created_at}.")
    click.echo(text)


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointRejected(f"cannot read a checkpoint from {path}: {error}") from None
    if not isinstance(data, dict):
        raise CheckpointRejected(f"{path} does not hold a checkpoint (a JSON object)")
    try:
        return Checkpoint.from_dict(data)
    except CheckpointInvalid as error:
        raise CheckpointRejected(f"{path}: {error}") from None


@audit_cli.command("verify")
@click.option(
    "--against",
    "against_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A checkpoint file (from `audit checkpoint --out` or GET /api/v1/audit/checkpoint): also prove "
    "the log still holds its head, i.e. only grew since.",
)
@click.option(
    "--since",
    "since_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A checkpoint file with a tree root: verify the consistency proof from it, then only the events "
    "after it (a regular audit's cost grows with what is new). Its signature is checked as with --against.",
)
@click.option(
    "--public-key",
    "public_key",
    default=None,
    help="The base64 Ed25519 public key the checkpoint must be signed with. Default: the configured signing "
    "key's. With neither, verify refuses (exit 2) unless --trust-embedded-key is given.",
)
@click.option(
    "--trust-embedded-key",
    "trust_embedded_key",
    is_flag=True,
    default=False,
    help="With --against and neither --public-key nor a configured signing key: check the checkpoint with "
    "the key it names itself. That shows only that it was not altered, not who signed it: anyone who can "
    "write the database can re-sign.",
)
def verify(
    against_file: Path | None, since_file: Path | None, public_key: str | None, trust_embedded_key: bool
) -> None:
    """Walk the whole log, recompute every hash and the Merkle tree over it, and print the
    report JSON as the last line. With --since, only what followed the checkpoint.

    Exit status: 0 the log verifies; 1 it does not (the report names the first bad position
    and what is wrong); 2 the checkpoint is unreadable, its signature does not verify, or there
    is no key to trust it with. With --against the report says which key was trusted
    (``trusted_key``: given, configured or embedded)."""
    if against_file is not None and since_file is not None:
        raise click.UsageError("give --against or --since, not both")
    since = _read_checkpoint(since_file) if since_file is not None else None
    against = _read_checkpoint(against_file) if against_file is not None else since
    trusted_key = None
    if against is not None:
        try:
            trusted = trusted_public_key(public_key)
        except SigningKeyMissing as error:
            raise click.ClickException(str(error)) from None
        if trusted is not None:
            public_key, trusted_key = trusted
        elif trust_embedded_key:
            public_key, trusted_key = against.public_key, EMBEDDED
            _note(
                "Warning: no --public-key and no signing key configured: the checkpoint is checked with the key "
                "it names itself (--trust-embedded-key), which shows it was not altered but not who signed it."
            )
        else:
            raise CheckpointRejected(
                "no key to check the checkpoint's signature with: give the auditor's --public-key, or configure "
                f"the signing key ({KEY_FILE_VARIABLE}), or pass --trust-embedded-key to check it only with the key "
                "it names itself (which proves nothing about who signed it)"
            )
    trail = audit_trail()
    total = trail.log_count()
    if since is not None:
        total = max(0, total - since.size)
    with click.progressbar(length=total, label=f"Verifying {total} events", file=sys.stderr) as bar:
        shown = 0

        def progress(checked: int) -> None:
            nonlocal shown
            checked -= since.size if since is not None else 0
            bar.update(checked - shown)
            shown = checked

        try:
            if since is not None:
                result = trail.verify_since(since, trusted_public_key=public_key, progress=progress)
            else:
                result = trail.verify(against=against, trusted_public_key=public_key, progress=progress)
        except CheckpointInvalid as error:
            raise CheckpointRejected(f"the checkpoint is rejected: {error}") from None
    if result.ok:
        _note(f"OK: {result.events_checked} events verify; head {result.head_hash}.")
    else:
        _note(f"NOT OK at position {result.first_bad_position}: {result.problem}")
    report = result.as_report()
    if trusted_key is not None:
        report["trusted_key"] = trusted_key
    click.echo(_json(report))
    if not result.ok:
        click.get_current_context().exit(NOT_OK)


@audit_cli.command("chain")
@click.option(
    "--force",
    is_flag=True,
    help="Also chain events found after the chain's head once the chain has begun (e.g. written by a worker "
    "still running code from before the chain). Investigate them first: chaining vouches for them.",
)
def chain(force: bool) -> None:
    """Chain the events stored before the hash chain existed (a one-off migration).

    Run it once, with the old workers stopped, before the first write of the new code (which
    would otherwise chain the old events itself). It chains, in position order and under the
    store's write lock, the events that follow the chain's head. Once the chain has begun, an
    event after the head without an entry was not written by this service, and is refused
    unless --force."""
    trail = audit_trail()
    try:
        chained = trail.store.chain_unchained(force=force)
    except ChainBroken as error:
        raise click.ClickException(str(error)) from None
    size, head_hash, _ = trail.head()
    click.echo(f"Chained {chained} events that had no chain entry; the chain now covers {size} events.")
    click.echo(f"Head hash: {head_hash}. Run `flask --app wsgi audit verify` to check the whole log.")


# ------------------------------------------------------------------------- the Merkle tree
@audit_cli.command("tree")
def tree() -> None:
    """Bring the Merkle tree up to the chain, then print its head (JSON, last line).

    A one-off for a store whose events were chained before the tree existed; afterwards every
    write extends the tree in its own transaction and this only prints the head. It refuses to
    take in an event that does not match its chain entry (run `audit verify`)."""
    store = audit_trail().store
    try:
        added = store.catch_up_tree()
    except ChainBroken as error:
        raise click.ClickException(str(error)) from None
    head = LogTree(store).head()
    _note(f"Added {added} leaves; the tree covers {head['size']} events.")
    click.echo(_json({"size": head["size"], "root_hash": head["root_hash"]}))


@audit_cli.command("inclusion")
@click.option("--position", type=int, required=True, help="The event's position in the global log.")
@click.option("--size", type=int, default=None, help="The tree size to prove it in (default: the whole tree).")
def inclusion(position: int, size: int | None) -> None:
    """Print the RFC 9162 inclusion proof of the event at a position (JSON, last line)."""
    click.echo(_json(_tree_answer(lambda: LogTree(audit_trail().store).event_inclusion(position, size))))


@audit_cli.command("consistency")
@click.option("--old-size", type=int, required=True, help="The size of the tree you hold the root of.")
@click.option("--new-size", type=int, default=None, help="The later size (default: the whole tree).")
def consistency(old_size: int, new_size: int | None) -> None:
    """Print the RFC 9162 proof that the tree only grew from a size (JSON, last line)."""
    click.echo(_json(_tree_answer(lambda: LogTree(audit_trail().store).growth(old_size, new_size))))


def _tree_answer(answer: Callable[[], dict]) -> dict:
    try:
        return answer()
    except (EventNotChained, TreeIncomplete, SizesOutOfOrder) as error:
        raise click.ClickException(str(error)) from None
