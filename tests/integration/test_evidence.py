"""The parties as witnesses, and evidence bundles checked offline (SQLite and PostgreSQL).

Two forces register witness keys; each runs the witness (``collab-witness``'s own code, its
HTTP calls carried by the Flask test client) which verifies the log's growth before it
cosigns. The demo's West Mercia exit quote is then bundled and checked by ``collab-verify``'s
own code with only the bundle file and the keys: it verifies, and fails on edits, each with
where and why."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from demo import load_demo
from service.audit import notes, offline, witness
from service.audit.bundles import canonical, seal
from service.audit.checkpoints import KEY_VARIABLE, Checkpoint, generate_key_pem, load_signing_key
from service.audit.configuration import audit_trail
from tests.integration.audit_support import (  # noqa: F401 (no_key_from_the_environment: an autouse fixture)
    RawDatabase,
    no_key_from_the_environment,
)
from tests.integration.exit_case_support import at, posted
from tests.integration.http_support import Http, assert_problem, http_for

AUDIT = "/api/v1/audit"
HOST_KEY = generate_key_pem().decode()
ORIGIN = "records.test.police.uk/log"
FORCES = ("west-mercia", "warwickshire")


@pytest.fixture
def http(database_url: str) -> Iterator[Http]:
    for http in http_for(database_url):
        http.app.config[KEY_VARIABLE] = HOST_KEY
        http.app.config["AUDIT_LOG_ORIGIN"] = ORIGIN
        yield http


class ClientService(witness.Service):
    """The witness's HTTP calls, carried by the Flask test client instead of a socket."""

    def __init__(self, http: Http, token: str):
        super().__init__("http://test", token)
        self.http = http

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        if method == "GET":
            response = self.http.get(path, token=self.token)
        else:
            response = self.http.post(path, body, token=self.token)
        return response.status_code, response.get_data()


@pytest.fixture
def log_key() -> notes.Verifier:
    return notes.Verifier.of(ORIGIN, load_signing_key({KEY_VARIABLE: HOST_KEY}).public_key())


@pytest.fixture
def witnesses(http: Http) -> dict[str, tuple[Ed25519PrivateKey, str]]:
    """Each force's witness key, registered by an administrator; force -> (key, name)."""
    made = {}
    for force in FORCES:
        key, name = Ed25519PrivateKey.generate(), f"{force}.police.test/witness"
        public_key = base64.b64encode(notes.raw_public_key(key.public_key())).decode()
        body = {"force": force, "name": name, "public_key": public_key, "approval_ref": f"{force} letter 2026/1"}
        response = http.post(f"{AUDIT}/witnesses", body)
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["vkey"] == notes.Verifier.of(name, key.public_key(), notes.COSIGNATURE_V1).vkey
        made[force] = (key, name)
    return made


def run_witness(http: Http, force: str, key: Ed25519PrivateKey, name: str, state: Path, log_key: notes.Verifier):
    service = ClientService(http, http.token("force", force=force))
    return witness.cosign_latest(service, key, name, log_key, state, first=not state.exists())


def witnesses_file(tmp_path: Path, witnesses: dict[str, tuple[Ed25519PrivateKey, str]]) -> Path:
    path = tmp_path / "forces.txt"
    lines = [
        f"{force} {notes.Verifier.of(name, key.public_key(), notes.COSIGNATURE_V1).vkey}"
        for force, (key, name) in witnesses.items()
    ]
    path.write_text("# the forces' witness keys, as each force gave them\n" + "\n".join(lines) + "\n")
    return path


def test_registering_witness_keys_is_for_administrators_and_names_are_unique(http: Http, witnesses) -> None:
    key = Ed25519PrivateKey.generate()
    public_key = base64.b64encode(notes.raw_public_key(key.public_key())).decode()
    body = {"force": "kent", "name": "kent.police.test/witness", "public_key": public_key, "approval_ref": "x"}
    assert_problem(http.post(f"{AUDIT}/witnesses", body, token=http.token("force", force="kent")), 403)
    taken = {**body, "name": "west-mercia.police.test/witness"}
    assert_problem(http.post(f"{AUDIT}/witnesses", taken), 409, "witness-key-taken")
    assert_problem(http.post(f"{AUDIT}/witnesses", {**body, "public_key": "AAAA"}), 422)
    assert_problem(http.post(f"{AUDIT}/witnesses", {**body, "name": "has space"}), 422)
    assert_problem(http.post(f"{AUDIT}/witnesses", {**body, "force": "atlantis"}), 422)
    listed = http.get(f"{AUDIT}/witnesses").get_json()["items"]
    assert {(w["force"], w["name"]) for w in listed} == {(f, n) for f, (_, n) in witnesses.items()}


def test_two_witnesses_cosign_after_checking_growth_and_refuse_a_rewritten_log(
    http: Http, witnesses, log_key: notes.Verifier, tmp_path: Path
) -> None:
    records = http.app.extensions["records"]
    load_demo(records)
    first = http.post(f"{AUDIT}/checkpoints", {})
    assert first.status_code == 201, first.get_json()
    for force, (key, name) in witnesses.items():
        answer = run_witness(http, force, key, name, tmp_path / f"{force}.json", log_key)
        assert answer["cosigned"] == first.get_json()["size"]
    note = http.get(f"{AUDIT}/checkpoint/note")
    assert note.mimetype == "text/plain"
    parsed = notes.parse_note(note.get_data(as_text=True))
    policy = notes.check_policy(
        parsed, log_key, [notes.Verifier.of(n, k.public_key(), notes.COSIGNATURE_V1) for k, n in witnesses.values()]
    )
    assert policy.ok and set(policy.vouched) == {name for _, name in witnesses.values()}
    served = http.get(f"{AUDIT}/checkpoints/{first.get_json()['size']}").get_json()
    assert {c["force"] for c in served["cosignatures"]} == set(FORCES)

    # The log grows; each witness checks the consistency proof before it cosigns again.
    http.establish()
    second = http.post(f"{AUDIT}/checkpoints", {}).get_json()
    key, name = witnesses["west-mercia"]
    answer = run_witness(http, "west-mercia", key, name, tmp_path / "west-mercia.json", log_key)
    assert answer["cosigned"] == second["size"] and "consistency proof" in answer["checked"]

    # A witness whose state says the log was larger refuses: the log shrank.
    state = tmp_path / "warwickshire.json"
    saved = json.loads(state.read_text())
    state.write_text(json.dumps({**saved, "size": second["size"] + 5}))
    key, name = witnesses["warwickshire"]
    with pytest.raises(witness.WitnessRefused, match="shrank"):
        run_witness(http, "warwickshire", key, name, state, log_key)
    # ...and one that cosigned another root at an earlier size refuses: the log forked.
    state.write_text(json.dumps({**saved, "root": base64.b64encode(bytes(32)).decode()}))
    with pytest.raises(witness.WitnessRefused, match="does not extend"):
        run_witness(http, "warwickshire", key, name, state, log_key)


def test_cosignatures_are_checked_on_receipt(http: Http, witnesses, log_key: notes.Verifier) -> None:
    http.establish()
    size = http.post(f"{AUDIT}/checkpoints", {}).get_json()["size"]
    text = notes.parse_note(http.get(f"{AUDIT}/checkpoints/{size}/note").get_data(as_text=True)).text
    key, name = witnesses["west-mercia"]
    other_key, other_name = witnesses["warwickshire"]
    good = notes.cosign(text, name, key, 1_700_000_000).line
    wrong_text = notes.cosign(text.replace(f"\n{size}\n", f"\n{size + 1}\n"), name, key, 1_700_000_000).line
    wrong_key = notes.cosign(text, name, other_key, 1_700_000_000).line
    unknown = notes.cosign(text, "nobody.test/witness", key, 1_700_000_000).line
    route = f"{AUDIT}/checkpoints/{size}/cosignatures"
    for bad in (wrong_text, wrong_key, unknown, "not a line", good.replace("\u2014", "-")):
        assert_problem(http.post(route, {"cosignature": bad}), 422)
    future = notes.cosign(text, name, key, 4_000_000_000).line
    assert_problem(http.post(route, {"cosignature": future}), 422)
    # A force token posts only its own witness's cosignature.
    assert_problem(http.post(route, {"cosignature": good}, token=http.token("force", force="warwickshire")), 403)
    assert http.post(route, {"cosignature": good}, token=http.token("force", force="west-mercia")).status_code == 201
    assert http.post(route, {"cosignature": good}).status_code == 200
    assert_problem(http.post(f"{AUDIT}/checkpoints/{size + 99}/cosignatures", {"cosignature": good}), 404)
    assert other_name not in http.get(f"{AUDIT}/checkpoints/{size}/note").get_data(as_text=True)


@pytest.fixture
def demo_bundle(http: Http, witnesses, log_key: notes.Verifier, tmp_path: Path) -> tuple[Path, list[str]]:
    records = http.app.extensions["records"]
    loaded = load_demo(records)
    collaboration_id = loaded.collaborations["wmw"]
    query = f"collaboration_id={collaboration_id}&force=west-mercia"
    assert_problem(http.get(f"{AUDIT}/evidence/exit-costs?{query}"), 409, "no-covering-checkpoint")
    assert http.post(f"{AUDIT}/checkpoints", {}).status_code == 201
    for force, (key, name) in witnesses.items():
        run_witness(http, force, key, name, tmp_path / f"{force}.json", log_key)
    response = http.get(f"{AUDIT}/evidence/exit-costs?{query}")
    assert response.status_code == 200, response.get_json()
    path = tmp_path / "wmw-quote.json"
    path.write_bytes(response.get_data())
    arguments = [str(path), "--log-key", log_key.vkey, "--witnesses", str(witnesses_file(tmp_path, witnesses))]
    return path, [*arguments, "--all-parties"]


def verify(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status = offline.main(arguments)
    out = capsys.readouterr().out.strip().splitlines()
    return status, json.loads(out[-1]) if out else {}


def test_the_demo_west_mercia_quote_bundle_verifies_offline(demo_bundle, capsys) -> None:
    path, arguments = demo_bundle
    status, report = verify(arguments, capsys)
    assert status == 0, report["failures"]
    assert set(report["witnesses_vouched"]) == {f"{force}.police.test/witness" for force in FORCES}
    bundle = json.loads(path.read_bytes())
    lines = bundle["figures"]["lines"]
    assert report["checked"]["lines recomputed"] == len(lines)  # every line's arithmetic re-done
    assert report["checked"]["input values found in their events"] > 20
    assert report["not_recomputed"] == []


def edit(path: Path, find: str, replace: str) -> None:
    data = path.read_text()
    assert find in data
    path.write_text(data.replace(find, replace, 1))


def test_an_edited_figure_fails_with_its_line_and_reason(demo_bundle, capsys) -> None:
    path, arguments = demo_bundle
    bundle = json.loads(path.read_bytes())
    h4 = next(line for line in bundle["figures"]["lines"] if line["head"] == "H4")
    edit(path, f'"amount":"{h4["amount"]}"', f'"amount":"{money_plus_a_penny(h4["amount"])}"')
    status, report = verify(arguments, capsys)
    assert status == 1
    reasons = {failure["where"]: failure["reason"] for failure in report["failures"]}
    assert any("(H4)" in where and "formula gives" in reason for where, reason in reasons.items()), reasons
    assert "seal" in reasons


def money_plus_a_penny(text: str) -> str:
    return str(Decimal(text) + Decimal("0.01"))


def test_an_input_not_in_its_event_fails_with_the_input(demo_bundle, capsys) -> None:
    path, arguments = demo_bundle
    edit(path, '"r(west-mercia, Alliance ICT)":"0.69"', '"r(west-mercia, Alliance ICT)":"0.96"')
    status, report = verify(arguments, capsys)
    assert status == 1
    assert any(
        "input r(west-mercia, Alliance ICT)" in failure["where"] and "not recorded as r" in failure["reason"]
        for failure in report["failures"]
    ), report["failures"]


def test_a_missing_witness_fails_the_all_parties_policy(demo_bundle, capsys, tmp_path: Path) -> None:
    _, arguments = demo_bundle
    forces = Path(arguments[arguments.index("--witnesses") + 1])
    forces.write_text("\n".join(line for line in forces.read_text().splitlines() if "warwickshire" not in line))
    status, report = verify(arguments, capsys)
    assert status == 1
    assert any("warwickshire" in failure["reason"] for failure in report["failures"])


def test_every_one_byte_edit_of_the_bundle_fails(demo_bundle, capsys) -> None:
    """Each byte of a sample across the whole file (every 97th, and every byte of the
    checkpoint), flipped, is caught: the file no longer parses, is no longer canonical, or a
    check fails."""
    path, arguments = demo_bundle
    original = path.read_bytes()
    start = original.index(b'"checkpoint":"')
    sample = sorted(set(range(0, len(original), 97)) | set(range(start, start + 400)))
    policy = offline._read_policy(offline._parser().parse_args(arguments))
    assert offline.verify_file(original, policy).ok
    for index in sample:
        edited = bytearray(original)
        edited[index] ^= 0x01
        assert not offline.verify_file(bytes(edited), policy).ok, f"an edit at byte {index} still verifies"


def test_a_rewritten_log_re_signed_by_the_host_fails_against_the_witnessed_checkpoint(
    http: Http, witnesses, log_key: notes.Verifier, tmp_path: Path, database_url: str, capsys
) -> None:
    """Someone with the database and the host's key rewrites an event, recomputes the chain and
    the tree, and signs a fresh checkpoint of the same size. Every check of the store alone
    passes; the witnessed checkpoint, the witnesses and the bundles' policy all refuse it."""

    records = http.app.extensions["records"]
    loaded = load_demo(records)
    witnessed = http.post(f"{AUDIT}/checkpoints", {}).get_json()
    for force, (key, name) in witnesses.items():
        run_witness(http, force, key, name, tmp_path / f"{force}.json", log_key)
    witnessed_note = http.get(f"{AUDIT}/checkpoint/note").get_data(as_text=True)

    raw = RawDatabase(database_url)
    positions = raw.positions()
    raw.edit_state(positions[5], reason="rewritten by the host")
    raw.rehash_from(positions[5])
    raw.rebuild_tree()
    raw.run("DELETE FROM {checkpoints}")
    resigned = http.post(f"{AUDIT}/checkpoints", {})
    assert resigned.status_code == 201 and resigned.get_json()["size"] == witnessed["size"]
    assert resigned.get_json()["root_hash"] != witnessed["root_hash"]
    assert http.get("/api/v1/audit/verify").get_json()["ok"] is True  # the store alone cannot tell

    with http.app.app_context():
        held = Checkpoint.from_dict({k: v for k, v in witnessed.items() if k != "cosignatures"})
        result = audit_trail().verify_since(held, trusted_public_key=held.public_key)
    assert not result.ok and "does not extend" in result.problem
    # The witnesses refuse the re-signed checkpoint: same size, another root.
    key, name = witnesses["warwickshire"]
    with pytest.raises(witness.WitnessRefused, match="forked"):
        run_witness(http, "warwickshire", key, name, tmp_path / "warwickshire.json", log_key)
    # A bundle made now rests on the re-signed checkpoint, which no party cosigned.
    query = f"collaboration_id={loaded.collaborations['wmw']}&force=west-mercia"
    path = tmp_path / "after.json"
    path.write_bytes(http.get(f"{AUDIT}/evidence/exit-costs?{query}").get_data())
    arguments = [str(path), "--log-key", log_key.vkey, "--witnesses", str(witnesses_file(tmp_path, witnesses))]
    status, report = verify([*arguments, "--all-parties"], capsys)
    assert status == 1 and report["witnesses_vouched"] == []
    # The note the parties hold still verifies for what it says, and its root is not the log's now.
    assert notes.parse_checkpoint(notes.parse_note(witnessed_note).text).root.hex() == witnessed["root_hash"]


def test_every_kind_of_line_is_recomputed_offline(http: Http, log_key: notes.Verifier, tmp_path: Path) -> None:
    """A three-party quote with a notice shortfall (H1), stranded costs (H4), a contract break
    (H5, capped), a jointly funded asset (H7) and claims both ways: every line's arithmetic and
    every sum over the remaining parties is re-done offline, and the bundle verifies."""
    staffs = "staffordshire"
    collaboration = http.establish(effective_on="2012-04-01", parties=[*FORCES, staffs])
    one = f"/api/v1/collaborations/{collaboration['id']}"
    ict = http.add_function(collaboration["id"], effective_on="2012-04-01", annual_budget="10000000.00")
    dogs = http.add_function(
        collaboration["id"], name="Dogs", kind="operational", effective_on="2012-04-01", annual_budget="2000000.00"
    )
    shares = {"west-mercia": "0.5", "warwickshire": "0.3", staffs: "0.2"}
    posted(http, f"{one}/apportionments", at("2012-04-01", function_id=None, basis="fixed_ratio", shares=shares))
    terms = {"notice_period_months": 12, "stranded_cost_rate": "0.25", "stranded_cost_months": 6}
    posted(http, f"{one}/exit-terms", at("2012-04-01", **terms, caps={"H5": "40000.00"}))
    contract = {"function_id": ict, "annual_value": "300000.00", "break_cost": "150000.00"}
    posted(http, f"{one}/contracts", at("2014-04-01", supplier="Northgate", ends_on="2022-03-31", **contract))
    posted(http, f"{one}/contracts", at("2015-04-01", supplier="Capita", ends_on="2021-03-31", **contract))
    asset = {"cost": "1200000.00", "useful_life_months": 84, "funded_shares": shares, "function_id": dogs}
    posted(http, f"{one}/assets", at("2016-07-15", name="Kennels", acquired_on="2016-07-15", **asset))
    posted(http, f"{one}/withdrawal-notices", at("2019-01-10", force="warwickshire"))
    opening = {"collaboration_id": collaboration["id"], "trigger": "withdrawal", "force": "warwickshire"}
    claims = f"/api/v1/exit-cases/{posted(http, '/api/v1/exit-cases', at('2019-02-01', **opening))['id']}/claims"
    lines = [{"head": "H2", "amount": "250000.00", "description": "single-force HR"}]
    posted(http, claims, at("2019-03-01", claimant=staffs, respondent="warwickshire", lines=lines))
    posted(http, claims, at("2019-03-02", claimant="warwickshire", respondent=staffs, lines=lines))

    assert http.post(f"{AUDIT}/checkpoints", {}).status_code == 201
    query = f"collaboration_id={collaboration['id']}&force=warwickshire&exit_on=2019-08-31"
    response = http.get(f"{AUDIT}/evidence/exit-costs?{query}")
    assert response.status_code == 200, response.get_json()
    bundle = json.loads(response.get_data())
    heads = [line["head"] for line in bundle["figures"]["lines"]]
    assert {"H1", "H4", "H5", "H7", "H2"} <= set(heads), heads
    assert any(line["formula"].startswith("min(") for line in bundle["figures"]["lines"])
    assert any(line["formula"].startswith("-claimed") for line in bundle["figures"]["lines"])
    assert all(line["amount"] != "0.00" for line in bundle["figures"]["lines"] if line["head"] in ("H1", "H7"))
    report = offline.verify_file(response.get_data(), offline.Policy(log_key, {}))
    assert report.ok, report.failures
    assert report.not_recomputed == []
    assert report.checked["lines recomputed"] == len(heads)
    assert report.checked["splits re-done"] >= 4  # H1, H4, H5 and H7 shared between two remaining parties
    for number, line in enumerate(bundle["figures"]["lines"]):
        edited = json.loads(response.get_data())
        edited["figures"]["lines"][number]["amount"] = money_plus_a_penny(line["amount"])
        failures = offline.verify_bundle(edited, offline.Policy(log_key, {})).failures
        assert any(f"lines[{number}] ({line['head']})" == f["where"] for f in failures), (line["head"], failures)

    # A penny moved from one payee to another keeps the line's sum, but not the split by the shares.
    edited = json.loads(response.get_data())
    h4 = next(line for line in edited["figures"]["lines"] if line["head"] == "H4")
    first, second = h4["payees"][0], h4["payees"][1]
    first["amount"], second["amount"] = money_plus_a_penny(first["amount"]), str(Decimal(second["amount"]) - PENNY)
    failures = offline.verify_bundle(edited, offline.Policy(log_key, {})).failures
    assert any("split by the shares" in failure["reason"] for failure in failures), failures


def test_verify_since_a_kept_checkpoint_over_http(http: Http, log_key: notes.Verifier) -> None:
    http.establish()
    size = http.post(f"{AUDIT}/checkpoints", {}).get_json()["size"]
    http.establish()
    report = http.get(f"{AUDIT}/verify?since_size={size}").get_json()
    assert report["ok"] and report["events_checked"] == http.log_size() - size and report["trusted_key"] == "configured"
    assert_problem(http.get(f"{AUDIT}/verify?since_size={size}&against_size={size}"), 422)
    assert_problem(http.get(f"{AUDIT}/verify?since_size=999"), 404)

PENNY = Decimal("0.01")


def resealed(bundle: dict[str, Any]) -> bytes:
    """The bundle sealed again with the host's own key, as a host rewriting its figures would."""
    return canonical(seal(bundle, load_signing_key({KEY_VARIABLE: HOST_KEY})))


def test_a_host_that_edits_and_reseals_a_bundle_is_still_caught(demo_bundle) -> None:
    """The host holds the log key, so it can seal anything: the figures must still be the
    events', and the checkpoint still the parties'."""
    path, arguments = demo_bundle
    policy = offline._read_policy(offline._parser().parse_args(arguments))
    original = json.loads(path.read_bytes())

    def failures(change) -> list[dict[str, str]]:
        bundle = json.loads(json.dumps(original))
        change(bundle)
        report = offline.verify_file(resealed(bundle), policy)
        assert not report.ok
        return report.failures

    def uncosigned(bundle: dict[str, Any]) -> None:  # the host's own signature only, and no parties named
        note = notes.parse_note(bundle["checkpoint"])
        bundle["checkpoint"] = str(notes.Note(note.text, note.signatures[:1]))
        bundle["parties"] = []

    assert any("missing" in f["reason"] for f in failures(uncosigned))

    def lines(bundle: dict[str, Any], head: str) -> dict[str, Any]:
        return next(line for line in bundle["figures"]["lines"] if line["head"] == head)

    def uncited(bundle: dict[str, Any]) -> None:  # an input doubled and its citation dropped
        h4 = lines(bundle, "H4")
        h4["inputs"]["B(Alliance ICT)"] = "20000000.00"
        del h4["source_events"]["B(Alliance ICT)"]

    assert any("neither a source event nor a derivation" in f["reason"] for f in failures(uncited))

    def unknown_formula(bundle: dict[str, Any]) -> None:
        lines(bundle, "H2")["formula"] = "agreed"

    assert any("not one this verifier can re-do" in f["reason"] for f in failures(unknown_formula))

    def relabelled(bundle: dict[str, Any]) -> None:  # H4 passed off as a claim on the budget's event
        h4 = lines(bundle, "H4")
        ref = h4["source_events"]["B(Alliance ICT)"]
        h4.update(formula="claimed amount", amount="10000000.00", inputs={"amount": "10000000.00"})
        h4["source_events"] = {"amount": ref}

    reasons = " ".join(f["reason"] for f in failures(relabelled))
    assert "not a claimed head" in reasons and "not recorded as amount" in reasons


def test_the_verifier_refuses_a_policy_that_proves_nothing(demo_bundle, capsys) -> None:
    path, arguments = demo_bundle
    log_key = arguments[arguments.index("--log-key") + 1]
    assert offline.main([str(path), "--log-key", log_key]) == offline.UNREADABLE  # no witness keys
    witnesses = arguments[arguments.index("--witnesses") + 1]
    for extra in (["--quorum", "0"], ["--quorum", "3"], ["--all-parties", "--quorum", "1"], ["--party", "kent"]):
        assert offline.main([str(path), "--log-key", log_key, "--witnesses", witnesses, *extra]) == offline.UNREADABLE
    # a witness key given for a party the bundle does not need still has to vouch under --all-parties --party
    status = offline.main([*arguments, "--party", "west-mercia", "--party", "kent"])
    assert status == offline.NOT_OK
    capsys.readouterr()


def test_bad_requests_and_altered_notes_are_problems_not_crashes(
    http: Http, witnesses, log_key: notes.Verifier, tmp_path: Path, database_url: str
) -> None:
    http.establish()
    size = http.post(f"{AUDIT}/checkpoints", {}).get_json()["size"]
    text = notes.parse_note(http.get(f"{AUDIT}/checkpoints/{size}/note").get_data(as_text=True)).text
    key, name = witnesses["west-mercia"]
    good = notes.cosign(text, name, key, 1_700_000_000).line
    route = f"{AUDIT}/checkpoints/{size}/cosignatures"
    sneaked = "x\n\n" + good  # another force's line after a blank line
    assert_problem(http.post(route, {"cosignature": sneaked}, token=http.token("force", force="warwickshire")), 422)
    assert_problem(http.get(f"{AUDIT}/checkpoints/{2**70}"), 404)
    assert_problem(http.post(f"{AUDIT}/checkpoints/{2**70}/cosignatures", {"cosignature": good}), 404)
    body = {"force": "kent", "name": "kent.test/w\n", "public_key": base64.b64encode(bytes(32)).decode()}
    assert_problem(http.post(f"{AUDIT}/witnesses", {**body, "approval_ref": "x"}), 422)
    http.app.config["AUDIT_LOG_ORIGIN"] = "has a space"
    http.establish()
    assert_problem(http.post(f"{AUDIT}/checkpoints", {}), 503)
    http.app.config["AUDIT_LOG_ORIGIN"] = ORIGIN

    # The note kept with the checkpoint is altered in the store: refused with 409, never served.
    raw = RawDatabase(database_url)
    [(kept,)] = raw.run(("SELECT checkpoint FROM {checkpoints} WHERE size = ?", [size]))
    altered = json.loads(kept)
    altered["note"] = altered["note"].replace(f"\n{size}\n", f"\n{size + 1}\n")
    raw.run(("UPDATE {checkpoints} SET checkpoint = ? WHERE size = ?", [json.dumps(altered), size]))
    for path in ("checkpoint", "checkpoints", f"checkpoints/{size}", "checkpoint/note", f"verify?since_size={size}"):
        assert_problem(http.get(f"{AUDIT}/{path}"), 409, "checkpoint-invalid")
    assert_problem(http.post(route, {"cosignature": good}), 409, "checkpoint-invalid")


def test_a_bundle_rests_on_the_checkpoint_the_parties_cosigned(
    http: Http, witnesses, log_key: notes.Verifier, tmp_path: Path
) -> None:
    """A checkpoint signed since, not yet cosigned, does not displace the one the parties vouched for."""
    records = http.app.extensions["records"]
    loaded = load_demo(records)
    cosigned = http.post(f"{AUDIT}/checkpoints", {}).get_json()["size"]
    for force, (key, name) in witnesses.items():
        run_witness(http, force, key, name, tmp_path / f"{force}.json", log_key)
    http.establish()
    assert http.post(f"{AUDIT}/checkpoints", {}).get_json()["size"] > cosigned
    query = f"collaboration_id={loaded.collaborations['wmw']}&force=west-mercia"
    bundle = json.loads(http.get(f"{AUDIT}/evidence/exit-costs?{query}").get_data())
    assert notes.parse_checkpoint(notes.parse_note(bundle["checkpoint"]).text).size == cosigned
