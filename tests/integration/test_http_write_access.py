"""Every write endpoint refuses the same way: no token 401, an auditor 403, a force that is not
a party 403, a stale If-Match 412, no reason 422; and a refused write records nothing. The writes
of collaborations and those of exit cases each have their table. A force that has left a
collaboration writes to it no more (403); and on an exit case a party's force token writes only
what its role allows (``PARTY_CASE_WRITES``): never an assessment, a settlement, a closing or a
reopening, and a payment only as its payee."""

from __future__ import annotations

import pytest

from tests.integration import http_support
from tests.integration.exit_case_support import (
    CASE_WRITES,
    WK,
    WM,
    Alliance,
    case_document,
    case_write_requests,
    open_case,
    posted,
    prepare_case,
)
from tests.integration.exit_case_support import alliance as exit_alliance
from tests.integration.exit_case_support import at as case_at
from tests.integration.http_support import (
    BENEFIT_WRITES,
    REPRESENTATION,
    WHEN,
    WRITES,
    Http,
    assert_problem,
    benefit_version,
    benefit_write_requests,
    identify_benefit,
    prepare,
    write_requests,
)

http = http_support.http

REFUSALS = {
    "no token": (401, "unauthenticated"),
    "auditor": (403, "not-permitted"),
    "force not a party": (403, "not-permitted"),
    "stale If-Match": (412, "version-mismatch"),
    "no reason": (422, "validation-failed"),
}


@pytest.fixture
def alliance(http: Http) -> tuple[str, str]:
    """A collaboration at version 2 (established, one function added): its id and the function's."""
    collaboration = http.establish()
    return collaboration["id"], http.add_function(collaboration["id"])


def write_name(rule: str) -> str:
    """A POST route's name in the tables: its last segment ("benefits/..." under /api/v1/benefits/)."""
    if rule == "/api/v1/collaborations":
        return "create"
    last = rule.rsplit("/", 1)[-1]
    return f"benefits/{last}" if rule.startswith("/api/v1/benefits/") else last


def test_the_table_of_writes_names_every_post_route_of_the_app(http: Http) -> None:
    posts = [
        write_name(rule.rule)
        for rule in http.app.url_map.iter_rules()
        # Signing an audit checkpoint, registering a witness or cosigning records no event (their access:
        # tests/integration/test_http_audit.py, test_evidence.py); nor do the web view's sign-in and
        # sign-out, outside the API (tests/integration/test_webview.py), nor webhook subscriptions
        # (tests/integration/test_webhooks.py). A benefits register import takes a file, not JSON
        # (its access: tests/integration/test_http_benefits_spreadsheets.py).
        if "POST" in rule.methods
        and rule.rule.startswith("/api/")
        and not rule.rule.startswith(("/api/v1/audit/", "/api/v1/webhooks/"))
        and not rule.rule.endswith("/benefits/register")
    ]
    assert len(posts) == len(set(posts))
    assert set(posts) == set(WRITES) | set(CASE_WRITES) | set(BENEFIT_WRITES)
    assert not set(WRITES) & set(CASE_WRITES)
    assert not (set(WRITES) | set(CASE_WRITES)) & set(BENEFIT_WRITES)


@pytest.mark.parametrize("endpoint", WRITES)
def test_each_write_with_an_admin_token_and_its_valid_body_is_recorded(
    http: Http, alliance: tuple[str, str], endpoint: str
) -> None:
    """The control for the refusals below: the same body, sent properly, is a 201."""
    version = prepare(http, *alliance, endpoint) if endpoint != "create" else 2
    path, body = write_requests(*alliance)[endpoint]
    log_size = http.log_size()
    response = http.post(path, {**WHEN, **body}, **{"If-Match": f'"{version}"'} if endpoint != "create" else {})
    assert response.status_code == 201, response.get_json()
    assert http.log_size() == log_size + 1


@pytest.mark.parametrize(
    ("endpoint", "refusal"),
    # A create has no version to be stale against (If-Match on a create is its own 412).
    [(e, r) for e in WRITES for r in REFUSALS if (e, r) != ("create", "stale If-Match")],
)
def test_each_write_is_refused_alike_and_records_nothing(
    http: Http, alliance: tuple[str, str], endpoint: str, refusal: str
) -> None:
    collaboration_id, _ = alliance
    path, body = write_requests(*alliance)[endpoint]
    body = {**WHEN, **body}
    token: str | None = "admin"
    headers: dict[str, str] = {}
    if refusal == "no token":
        token = None
    elif refusal == "auditor":
        token = http.token("auditor")
    elif refusal == "force not a party":
        token = http.token("force", "suffolk")
    elif refusal == "stale If-Match":
        headers["If-Match"] = '"1"'
    elif refusal == "no reason":
        del body["reason"]
    log_size = http.log_size()

    response = http.post(path, body, token, **headers)

    status, problem_type = REFUSALS[refusal]
    problem = assert_problem(response, status, problem_type)
    if refusal == "no reason":
        assert problem["errors"] == {"reason": ["Missing data for required field."]}
    assert http.log_size() == log_size
    assert http.version(collaboration_id) == 2
    assert http.get("/api/v1/collaborations").get_json()["total"] == 1


# ------------------------------------------------------------------------ exit-case writes
@pytest.fixture
def exit_case(http: Http) -> tuple[Alliance, str]:
    """West Mercia's withdrawal case at version 2 (opened, assessed), and its alliance."""
    alliance = exit_alliance(http)
    case_id = open_case(http, alliance.id)["id"]
    posted(
        http,
        f"/api/v1/exit-cases/{case_id}/assessments",
        case_at("2020-01-31", assessor="A", recommended_amount="1.00"),
    )
    return alliance, case_id


@pytest.mark.parametrize("endpoint", CASE_WRITES)
def test_each_exit_case_write_with_an_admin_token_and_its_valid_body_is_recorded(
    http: Http, exit_case: tuple[Alliance, str], endpoint: str
) -> None:
    creating = endpoint == "exit-cases"
    version = prepare_case(http, *exit_case, endpoint)
    path, body = case_write_requests(*exit_case)[endpoint]
    log_size = http.log_size()
    response = http.post(path, case_at("2020-03-30", **body), **({} if creating else {"If-Match": f'"{version}"'}))
    assert response.status_code == 201, response.get_json()
    assert http.log_size() == log_size + 1


@pytest.mark.parametrize(
    ("endpoint", "refusal"),
    [(e, r) for e in CASE_WRITES for r in REFUSALS if (e, r) != ("exit-cases", "stale If-Match")],
)
def test_each_exit_case_write_is_refused_alike_and_records_nothing(
    http: Http, exit_case: tuple[Alliance, str], endpoint: str, refusal: str
) -> None:
    _, case_id = exit_case
    path, body = case_write_requests(*exit_case)[endpoint]
    body = case_at("2020-03-30", **body)
    token: str | None = "admin"
    headers: dict[str, str] = {}
    if refusal == "no token":
        token = None
    elif refusal == "auditor":
        token = http.token("auditor")
    elif refusal == "force not a party":
        token = http.token("force", "suffolk")
    elif refusal == "stale If-Match":
        headers["If-Match"] = '"1"'
    elif refusal == "no reason":
        del body["reason"]
    log_size = http.log_size()

    response = http.post(path, body, token, **headers)

    status, problem_type = REFUSALS[refusal]
    problem = assert_problem(response, status, problem_type)
    if refusal == "no reason":
        assert problem["errors"] == {"reason": ["Missing data for required field."]}
    assert http.log_size() == log_size
    assert case_document(http, case_id)["version"] == 2


# ------------------------------------------------------------------- which party may write what
# Which party's force token may send each exit-case write of ``case_write_requests`` to West
# Mercia's withdrawal case (West Mercia pays Warwickshire under its settlement). Either party
# opens a case; a claim is lodged by its claimant (Warwickshire) and a dispute raised by the
# force raising it (West Mercia); an independent assessment, a settlement, closing and reopening
# are an administrator's alone; a payment is recorded by its payee, never by its payer.
PARTY_CASE_WRITES = {
    "exit-cases": {WM, WK},
    "claims": {WK},
    "assessments": set(),
    "disputes": {WM},
    "settlement": set(),
    "payments": {WK},
    "closure": set(),
    "reopening": set(),
}


def test_the_table_of_party_case_writes_names_every_exit_case_write() -> None:
    assert set(PARTY_CASE_WRITES) == set(CASE_WRITES)


@pytest.mark.parametrize(("endpoint", "force"), [(e, f) for e in CASE_WRITES for f in (WM, WK)])
def test_a_party_force_token_writes_to_an_exit_case_only_what_its_role_allows(
    http: Http, exit_case: tuple[Alliance, str], endpoint: str, force: str
) -> None:
    _, case_id = exit_case
    version = prepare_case(http, *exit_case, endpoint)
    path, body = case_write_requests(*exit_case)[endpoint]
    log_size = http.log_size()

    response = http.post(path, case_at("2020-03-30", **body), http.token("force", force))

    if force in PARTY_CASE_WRITES[endpoint]:
        assert response.status_code == 201, response.get_json()
        assert http.log_size() == log_size + 1
    else:
        assert_problem(response, 403, "not-permitted")
        assert http.log_size() == log_size
        assert case_document(http, case_id)["version"] == version


# ----------------------------------------------------------------- a force that has left
@pytest.fixture
def warwickshire_left(http: Http, alliance: tuple[str, str]) -> tuple[str, str]:
    """The collaboration after Warwickshire served notice and left on it (by its own token)."""
    prepare(http, *alliance, "party-withdrawals")
    path, body = write_requests(*alliance)["party-withdrawals"]
    response = http.post(path, {**WHEN, **body}, http.token("force", WK), **REPRESENTATION)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["withdrawals"][0]["force"] == WK
    return alliance


def test_a_force_writes_to_a_collaboration_until_it_leaves_it(http: Http, alliance: tuple[str, str]) -> None:
    collaboration_id, _ = alliance
    path, body = write_requests(*alliance)["reviews"]
    warwickshire = http.token("force", WK)
    assert http.post(path, {**WHEN, **body}, warwickshire).status_code == 201
    prepare(http, *alliance, "party-withdrawals")
    leave, leaving = write_requests(*alliance)["party-withdrawals"]
    left = http.post(leave, {**WHEN, **leaving}, warwickshire)
    assert left.status_code == 201, left.get_json()
    version, log_size = http.version(collaboration_id), http.log_size()

    problem = assert_problem(http.post(path, {**WHEN, **body}, warwickshire), 403, "not-permitted")

    assert WK in problem["detail"]
    assert http.version(collaboration_id) == version
    assert http.log_size() == log_size
    reviews = http.get(f"/api/v1/collaborations/{collaboration_id}").get_json()["reviews"]
    assert [review["outcome"] for review in reviews] == [body["outcome"]]
    # West Mercia, still a party, writes on.
    assert http.post(path, {**WHEN, **body}, http.token("force", WM)).status_code == 201


@pytest.mark.parametrize("endpoint", [endpoint for endpoint in WRITES if endpoint != "create"])
def test_every_collaboration_write_refuses_a_force_that_has_left_and_records_nothing(
    http: Http, warwickshire_left: tuple[str, str], endpoint: str
) -> None:
    collaboration_id, _ = warwickshire_left
    path, body = write_requests(*warwickshire_left)[endpoint]
    version, log_size = http.version(collaboration_id), http.log_size()

    response = http.post(path, {**WHEN, **body}, http.token("force", WK))

    problem = assert_problem(response, 403, "not-permitted")
    assert WK in problem["detail"]
    assert http.version(collaboration_id) == version
    assert http.log_size() == log_size


# ---------------------------------------------------------------------------- benefit writes
@pytest.fixture
def benefit(http: Http, alliance: tuple[str, str]) -> tuple[str, str]:
    """The alliance (at version 2) and a benefit of it at version 2: their ids."""
    collaboration_id, _ = alliance
    return collaboration_id, identify_benefit(http, collaboration_id)


@pytest.mark.parametrize("endpoint", BENEFIT_WRITES)
def test_each_benefit_write_with_an_admin_token_and_its_valid_body_is_recorded(
    http: Http, benefit: tuple[str, str], endpoint: str
) -> None:
    creating = endpoint == "benefits"
    path, body = benefit_write_requests(*benefit)[endpoint]
    log_size = http.log_size()
    response = http.post(path, {**WHEN, **body}, **({} if creating else {"If-Match": '"2"'}))
    assert response.status_code == 201, response.get_json()
    assert http.log_size() == log_size + 1
    assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'


@pytest.mark.parametrize(
    ("endpoint", "refusal"),
    [(e, r) for e in BENEFIT_WRITES for r in REFUSALS if (e, r) != ("benefits", "stale If-Match")],
)
def test_each_benefit_write_is_refused_alike_and_records_nothing(
    http: Http, benefit: tuple[str, str], endpoint: str, refusal: str
) -> None:
    collaboration_id, benefit_id = benefit
    path, body = benefit_write_requests(*benefit)[endpoint]
    body = {**WHEN, **body}
    token: str | None = "admin"
    headers: dict[str, str] = {}
    if refusal == "no token":
        token = None
    elif refusal == "auditor":
        token = http.token("auditor")
    elif refusal == "force not a party":
        token = http.token("force", "suffolk")
    elif refusal == "stale If-Match":
        headers["If-Match"] = '"1"'
    elif refusal == "no reason":
        del body["reason"]
    log_size = http.log_size()

    response = http.post(path, body, token, **headers)

    status, problem_type = REFUSALS[refusal]
    problem = assert_problem(response, status, problem_type)
    if refusal == "no reason":
        assert problem["errors"] == {"reason": ["Missing data for required field."]}
    assert http.log_size() == log_size
    assert benefit_version(http, benefit_id) == 2
    assert http.version(collaboration_id) == 2


@pytest.mark.parametrize("endpoint", BENEFIT_WRITES)
def test_a_party_writes_benefits_until_it_leaves_the_collaboration(
    http: Http, benefit: tuple[str, str], endpoint: str
) -> None:
    """A party's force token sends every benefit write; once the force has left the agreement,
    it sends none (403) and nothing is recorded."""
    collaboration_id, benefit_id = benefit
    path, body = benefit_write_requests(*benefit)[endpoint]
    log_size = http.log_size()
    written = http.post(path, {**WHEN, **body}, http.token("force", WK))
    assert written.status_code == 201, written.get_json()
    assert http.log_size() == log_size + 1

    prepare(http, collaboration_id, "-", "party-withdrawals")
    leave, leaving = write_requests(collaboration_id, "-")["party-withdrawals"]
    assert http.post(leave, {**WHEN, **leaving}, http.token("force", WK)).status_code == 201
    version, log_size = benefit_version(http, benefit_id), http.log_size()

    problem = assert_problem(http.post(path, {**WHEN, **body}, http.token("force", WK)), 403, "not-permitted")

    assert WK in problem["detail"]
    assert http.log_size() == log_size
    assert benefit_version(http, benefit_id) == version
