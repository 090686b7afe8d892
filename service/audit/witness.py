"""``collab-witness``: a force's witness of the record's log, run by the force on its own machine.

It needs only the standard library and ``cryptography``, the service's URL, a token of the
force's own (posting a cosignature is a write), the log's verifier key (from the host, out of
band) and the force's own witness key. Each run:

1. fetches the latest checkpoint (``GET /api/v1/audit/checkpoint/note``) and checks the log's
   signature with the log's verifier key;
2. checks, with the RFC 9162 consistency proof from the checkpoint it last cosigned (kept in its
   state file), that the log only grew since: nothing it vouched for was rewritten;
3. only then cosigns (C2SP ``tlog-cosignature``, Ed25519) and posts the cosignature
   (``POST /api/v1/audit/checkpoints/{size}/cosignatures``), and records the new size and root
   in its state file.

A log that shrank, forked, or whose proof does not verify is refused (exit 1) and the state is
left as it was. The first run has no earlier checkpoint to compare with: it trusts the log as
it is then (say ``--first``), as any witness must once.

    collab-witness keygen --name west-mercia.police.uk/witness --out witness.pem
    collab-witness cosign --url https://records.example --token-file token --key witness.pem \\
        --name west-mercia.police.uk/witness --log-key 'collaboration-records/...+...+...' --state state.json
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.audit import merkle, notes

OK, REFUSED, FAILED = 0, 1, 2
TIMEOUT = 30


class WitnessRefused(Exception):
    """The log is not one this witness can vouch for."""


class WitnessFailed(Exception):
    """The witness could not do its work (the service unreachable, a bad argument)."""


# ------------------------------------------------------------------------------ HTTP
class Service:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (the operator's URL, http or https)
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except (urllib.error.URLError, OSError) as error:
            raise WitnessFailed(f"cannot reach {self.url}: {error}") from None

    def get_json(self, path: str) -> dict[str, Any]:
        status, body = self.request("GET", path)
        if status != 200:
            raise WitnessFailed(f"GET {path} answered {status}: {body[:500].decode(errors='replace')}")
        return json.loads(body)


# ----------------------------------------------------------------------------- state
def read_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
        return {"origin": str(state["origin"]), "size": int(state["size"]), "root": str(state["root"])}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise WitnessFailed(f"the state file {path} is unreadable: {error}") from None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replaces the state file atomically: a crash leaves the old state or the new, never half."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(state, sort_keys=True) + "\n")
    os.replace(temporary, path)


# ----------------------------------------------------------------------------- witness
def check_growth(service: Service, state: dict[str, Any] | None, body: notes.CheckpointBody, first: bool) -> str:
    """Why the checkpoint is one this witness may cosign, or WitnessRefused."""
    if state is None:
        if not first:
            raise WitnessRefused(
                "no state file: this witness has cosigned nothing yet; run once with --first to trust the log as "
                "it is now"
            )
        return f"first checkpoint trusted as it is: size {body.size}"
    if state["origin"] != body.origin:
        raise WitnessRefused(f"the checkpoint is of log {body.origin!r}, this witness watches {state['origin']!r}")
    old_root = base64.b64decode(state["root"])
    if body.size < state["size"]:
        raise WitnessRefused(f"the log shrank: size {body.size}, after cosigning size {state['size']}")
    if body.size == state["size"]:
        if body.root != old_root:
            raise WitnessRefused(f"the log forked: size {body.size} has another root than the one cosigned")
        return f"the same checkpoint as last time: size {body.size}"
    if state["size"] == 0:
        return f"grew from an empty log to size {body.size}"
    query = urllib.parse.urlencode({"old_size": state["size"], "new_size": body.size})
    proof = service.get_json(f"/api/v1/audit/proofs/consistency?{query}")
    try:
        path = [bytes.fromhex(node) for node in proof["proof"]]
        merkle.verify_consistency(state["size"], body.size, old_root, body.root, path)
    except (KeyError, TypeError, ValueError) as error:  # merkle.ProofError is a ValueError
        raise WitnessRefused(
            f"the log does not extend the checkpoint of size {state['size']} this witness cosigned: {error}"
        ) from None
    return f"consistency proof from size {state['size']} to {body.size} verified"


def cosign_latest(
    service: Service,
    key: Ed25519PrivateKey,
    name: str,
    log_key: notes.Verifier,
    state_path: Path,
    *,
    first: bool = False,
    now: int | None = None,
) -> dict[str, Any]:
    status, raw = service.request("GET", "/api/v1/audit/checkpoint/note")
    if status != 200:
        answer = raw[:500].decode(errors="replace")
        raise WitnessFailed(f"GET /api/v1/audit/checkpoint/note answered {status}: {answer}")
    try:
        note = notes.parse_note(raw.decode())
        if not notes.verify_signature(note, log_key):
            raise WitnessRefused(f"the checkpoint carries no signature by the log's key {log_key.name}")
        body = notes.parse_checkpoint(note.text)
    except (notes.NoteError, UnicodeDecodeError) as error:
        raise WitnessRefused(f"the checkpoint is not one the log signed: {error}") from None
    if body.origin != log_key.name:
        raise WitnessRefused(f"the checkpoint's origin {body.origin!r} is not the log key's name {log_key.name!r}")
    state = read_state(state_path)
    why = check_growth(service, state, body, first)
    cosignature = notes.cosign(note.text, name, key, int(time.time()) if now is None else now)
    status, answer = service.request(
        "POST", f"/api/v1/audit/checkpoints/{body.size}/cosignatures", {"cosignature": cosignature.line}
    )
    if status not in (200, 201):
        raise WitnessFailed(f"the service refused the cosignature ({status}): {answer[:500].decode(errors='replace')}")
    write_state(state_path, {"origin": body.origin, "size": body.size, "root": base64.b64encode(body.root).decode()})
    return {"cosigned": body.size, "root_hash": body.root.hex(), "origin": body.origin, "checked": why}


# ------------------------------------------------------------------------------ command
def keygen(name: str, out: Path) -> dict[str, Any]:
    notes.check_key_name(name)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    verifier = notes.Verifier.of(name, key.public_key(), notes.COSIGNATURE_V1)
    public_key = base64.b64encode(verifier.public_key).decode()
    return {"name": name, "public_key": public_key, "vkey": verifier.vkey, "key_file": str(out)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="collab-witness",
        description="A force's witness: check that the record's log only grew, then cosign its checkpoint.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("keygen", help="make the witness's Ed25519 key (the file is never overwritten)")
    make.add_argument("--name", required=True, help="the witness's key name, e.g. west-mercia.police.uk/witness")
    make.add_argument("--out", required=True, type=Path, help="where to write the private key (mode 600)")
    cosign = commands.add_parser("cosign", help="verify the latest checkpoint's growth and cosign it")
    cosign.add_argument("--url", required=True, help="the service, e.g. https://records.example")
    cosign.add_argument("--token-file", type=Path, help="a file holding the force's token (else $COLLAB_TOKEN)")
    cosign.add_argument("--key", required=True, type=Path, help="the witness's private key (PEM)")
    cosign.add_argument("--name", required=True, help="the witness's key name, as registered")
    cosign.add_argument("--log-key", required=True, help="the log's verifier key, as the host gave it out of band")
    cosign.add_argument("--state", required=True, type=Path, help="where the last cosigned size and root are kept")
    cosign.add_argument("--first", action="store_true", help="no state yet: trust the log as it is now")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "keygen":
            try:
                answer = keygen(args.name, args.out)
            except FileExistsError:
                raise WitnessFailed(f"{args.out} exists; refusing to overwrite a key") from None
            print("Register the public key with the service (an administrator, with your approval).", file=sys.stderr)
        else:
            token = args.token_file.read_text().strip() if args.token_file else os.environ.get("COLLAB_TOKEN", "")
            if not token:
                raise WitnessFailed("no token: give --token-file or set COLLAB_TOKEN")
            try:
                key = notes.load_private_key(args.key.read_bytes())
                log_key = notes.Verifier.parse(args.log_key)
            except (OSError, ValueError) as error:
                raise WitnessFailed(str(error)) from None
            answer = cosign_latest(Service(args.url, token), key, args.name, log_key, args.state, first=args.first)
            print(f"Cosigned size {answer['cosigned']}: {answer['checked']}.", file=sys.stderr)
    except WitnessRefused as error:
        print(f"REFUSED: {error}", file=sys.stderr)
        print(json.dumps({"refused": str(error)}))
        return REFUSED
    except WitnessFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILED
    print(json.dumps(answer, sort_keys=True))
    return OK


if __name__ == "__main__":
    sys.exit(main())
