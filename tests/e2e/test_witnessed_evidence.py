"""End to end, as the parties would do it: the service under gunicorn with the demo data, two
forces' witnesses (the ``collab-witness`` command) cosigning its checkpoint, the demo's West
Mercia exit quote bundled and checked by ``collab-verify`` with only the file and the keys;
then an event rewritten in the database, the chain and the tree recomputed and the checkpoint
re-signed with the host's own key: the witnesses refuse it, and the audit against the witnessed
checkpoint fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import BIN, ROOT, Service
from tests.integration.audit_support import RawDatabase

pytestmark = pytest.mark.e2e
FORCES = ("west-mercia", "warwickshire")


def run(service: Service, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), cwd=ROOT, env=service.env, capture_output=True, text=True, timeout=120, check=check
    )


def flask(service: Service, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(service, str(BIN / "flask"), "--app", "wsgi", *arguments, check=check)


def test_two_witnesses_a_bundle_verified_offline_and_a_rewrite_refused(gunicorn_service: Service, tmp_path: Path):
    service = gunicorn_service
    flask(service, "demo", "load")
    admin = {"Authorization": f"Bearer {service.create_token('--role', 'admin', '--name', 'e2e admin')}"}
    api = f"{service.base_url}/api/v1"
    log_key = flask(service, "audit", "vkey").stdout.strip().splitlines()[-1]

    made = requests.post(f"{api}/audit/checkpoints", json={}, headers=admin, timeout=60)
    assert made.status_code == 201, made.text
    witnessed = made.json()
    forces_file = tmp_path / "forces.txt"
    lines = []
    for force in FORCES:
        name = f"{force}.police.test/witness"
        key = tmp_path / f"{force}.pem"
        witness = str(BIN / "collab-witness")
        keygen = json.loads(run(service, witness, "keygen", "--name", name, "--out", str(key)).stdout)
        body = {"force": force, "name": name, "public_key": keygen["public_key"], "approval_ref": f"{force} letter"}
        assert requests.post(f"{api}/audit/witnesses", json=body, headers=admin, timeout=30).status_code == 201
        token = tmp_path / f"{force}.token"
        token.write_text(service.create_token("--role", "force", "--force", force, "--name", f"{force} witness"))
        cosign = [str(BIN / "collab-witness"), "cosign", "--url", service.base_url, "--token-file", str(token)]
        cosign += ["--key", str(key), "--name", name, "--log-key", log_key, "--state", str(tmp_path / f"{force}.json")]
        result = run(service, *cosign, "--first")
        assert json.loads(result.stdout.splitlines()[-1])["cosigned"] == witnessed["size"]
        lines.append(f"{force} {keygen['vkey']}")
    forces_file.write_text("\n".join(lines) + "\n")

    # The demo's West Mercia exit quote, bundled, verifies offline with only the file and the keys.
    collaborations = requests.get(f"{api}/collaborations", headers=admin, timeout=30).json()["items"]
    wmw = next(c["id"] for c in collaborations if {"west-mercia", "warwickshire"} <= set(c["parties"]))
    bundle = requests.get(
        f"{api}/audit/evidence/exit-costs",
        params={"collaboration_id": wmw, "force": "west-mercia"},
        headers=admin,
        timeout=60,
    )
    assert bundle.status_code == 200, bundle.text
    path = tmp_path / "wmw-quote.json"
    path.write_bytes(bundle.content)
    verify = [str(BIN / "collab-verify"), str(path), "--log-key", log_key, "--witnesses", str(forces_file)]
    verify.append("--all-parties")
    result = run(service, *verify, check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert sorted(report["witnesses_vouched"]) == sorted(f"{force}.police.test/witness" for force in FORCES)

    # Any one-byte edit fails, with where and why (a sample across the file; the integration
    # tests flip many more).
    original = path.read_bytes()
    for index in range(0, len(original), max(1, len(original) // 12)):
        edited = bytearray(original)
        edited[index] ^= 0x01
        path.write_bytes(bytes(edited))
        result = run(service, *verify, check=False)
        assert result.returncode != 0, f"an edit at byte {index} still verifies"
        assert "FAIL" in result.stderr or "error" in result.stderr
    path.write_bytes(original)

    # Someone with the database and the host's key rewrites history and re-signs.
    held = tmp_path / "witnessed-checkpoint.json"
    held.write_text(json.dumps({k: v for k, v in witnessed.items() if k != "cosignatures"}))
    raw = RawDatabase(service.env["DATABASE_URL"])
    positions = raw.positions()
    raw.edit_state(positions[3], reason="rewritten by the host")
    raw.rehash_from(positions[3])
    raw.rebuild_tree()
    raw.run("DELETE FROM {checkpoints}")
    resigned = requests.post(f"{api}/audit/checkpoints", json={}, headers=admin, timeout=60).json()
    assert resigned["size"] == witnessed["size"] and resigned["root_hash"] != witnessed["root_hash"]
    assert flask(service, "audit", "verify", check=False).returncode == 0  # the store alone cannot tell

    public_key = witnessed["public_key"]
    since = flask(service, "audit", "verify", "--since", str(held), "--public-key", public_key, check=False)
    assert since.returncode == 1 and "does not extend" in json.loads(since.stdout.splitlines()[-1])["problem"]
    refused = run(service, *cosign, check=False)  # the last witness's command: it has cosigned this size
    assert refused.returncode == 1 and "forked" in refused.stderr
