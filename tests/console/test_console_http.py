"""The console over HTTP against the production topology: sessions, scopes, CSRF and bad input."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest
import requests
from flask.json.tag import TaggedJSONSerializer
from itsdangerous import URLSafeTimedSerializer

from tests.console.conftest import CONSOLE_SECRET, PROVIDER_SECRET, Browserless, csrf_of
from tests.support import specs
from tests.support.services import KEYS, Api

pytestmark = pytest.mark.e2e

Session = Callable[[str | None], Browserless]


def blocked_run(api: Api) -> dict[str, object]:
    run = api.create_run(specs.human_flow(), "draft the note", async_mode=True)
    return api.wait_status(str(run["run_id"]), {"blocked"})


def test_root_sends_browsers_to_the_console_and_clients_to_the_map(stack: Api) -> None:
    browser = requests.get(
        stack.base_url + "/", headers={"Accept": "text/html,*/*;q=0.8"}, allow_redirects=False, timeout=30
    )
    assert browser.status_code == 302 and browser.headers["Location"].endswith("/console/")
    client = requests.get(stack.base_url + "/", timeout=30)
    assert client.status_code == 200 and client.json()["console"] == "/console/"


def test_pages_ask_for_sign_in_first(stack: Api) -> None:
    answer = requests.get(stack.base_url + "/console/runs?status=failed", allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    assert "/console/sign-in?next=/console/runs" in answer.headers["Location"]


def test_sign_in_gives_a_hardened_cookie_that_never_holds_the_key(stack: Api) -> None:
    http = requests.Session()
    page = http.get(stack.base_url + "/console/sign-in", timeout=30)
    answer = http.post(
        stack.base_url + "/console/sign-in",
        data={"api_key": KEYS["operator"], "csrf_token": csrf_of(page.text)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Expires=" in cookie
    value = http.cookies["kneo_console"]
    data = _serializer().loads(value)
    assert data["principal"] == "operator"
    assert KEYS["operator"] not in value and KEYS["operator"] not in str(data)


def test_a_wrong_key_is_refused(signed_in: Session) -> None:
    anonymous = signed_in(None)
    answer = anonymous.post(
        "/console/sign-in", {"api_key": "not-a-key"}, csrf_from=anonymous.get("/console/sign-in").text
    )
    assert answer.status_code == 401 and "That key is not valid." in answer.text
    assert "kneo_console" not in anonymous.http.cookies or "principal" not in _decoded(anonymous)


def test_an_expired_session_signs_out(stack: Api, signed_in: Session) -> None:
    operator = signed_in("operator")
    data = _decoded(operator)

    def runs_page_with(cookie: str) -> requests.Response:
        operator.http.cookies.clear()
        operator.http.cookies.set("kneo_console", cookie, path="/console")
        return operator.http.get(stack.base_url + "/console/runs", allow_redirects=False, timeout=30)

    assert runs_page_with(_signed_at(data, time.time() - 60)).status_code == 200
    stale = runs_page_with(_signed_at(data, time.time() - 9 * 3600))
    assert stale.status_code == 302 and "/console/sign-in" in stale.headers["Location"]


def test_a_viewer_reads_runs_but_cannot_act(stack: Api, signed_in: Session) -> None:
    run = blocked_run(stack)
    viewer = signed_in("viewer")
    page = viewer.get(f"/console/runs/{run['run_id']}")
    assert page.status_code == 200 and "draft the note" in page.text
    assert "Cancel run" not in page.text
    task = viewer.get(f"/console/human/{run['continuation_id']}")
    assert task.status_code == 200 and "can read this task but not decide it" in task.text
    assert 'value="approved"' not in task.text
    forged = viewer.post(f"/console/human/{run['continuation_id']}/decide", {"request_id": "x", "decision": "approved"})
    assert forged.status_code == 403
    cancel = viewer.post(f"/console/runs/{run['run_id']}/cancel", {})
    assert cancel.status_code == 403
    assert stack.run(str(run["run_id"]))["status"] == "blocked"
    assert "Policies" not in viewer.get("/console/runs").text


def test_a_post_without_the_csrf_token_is_refused(stack: Api, signed_in: Session) -> None:
    run = blocked_run(stack)
    operator = signed_in("operator")
    answer = operator.http.post(stack.base_url + f"/console/runs/{run['run_id']}/cancel", data={}, timeout=30)
    assert answer.status_code == 403
    wrong = operator.http.post(
        stack.base_url + f"/console/runs/{run['run_id']}/cancel", data={"csrf_token": "guess"}, timeout=30
    )
    assert wrong.status_code == 403
    assert stack.run(str(run["run_id"]))["status"] == "blocked"
    done = operator.post(f"/console/runs/{run['run_id']}/cancel", {})
    assert done.status_code == 200 and "Run cancelled." in done.text
    assert stack.run(str(run["run_id"]))["status"] == "cancelled"


def test_bad_filters_get_a_clear_message(signed_in: Session) -> None:
    operator = signed_in("operator")
    for query, message in (
        ("status=bogus", "status must be one of"),
        ("created_after=yesterday", "created after must be a date"),
        ("sort_by=password", "sort by must be one of"),
        ("offset=ten", "offset must be a whole number"),
    ):
        answer = operator.get(f"/console/runs?{query}")
        assert answer.status_code == 422 and message in answer.text, query


def test_bad_decisions_change_nothing(stack: Api, signed_in: Session) -> None:
    run = blocked_run(stack)
    reviewer = signed_in("reviewer")
    task = f"/console/human/{run['continuation_id']}"
    request_id = str((run["pending_human_request"] or {})["id"])  # type: ignore[index]
    for form, status in (
        ({"request_id": request_id, "decision": "maybe"}, 422),
        ({"request_id": "not-the-request", "decision": "approved"}, 422),
        ({"request_id": request_id, "decision": "approved", "content": "x" * 20_001}, 422),
    ):
        answer = reviewer.post(task + "/decide", form, csrf_from=reviewer.get(task).text)
        assert answer.status_code == status, (form, answer.status_code)
        assert 'role="alert"' in answer.text
    assert stack.run(str(run["run_id"]))["status"] == "blocked"


def test_policy_form_validates_like_the_api(stack: Api, signed_in: Session) -> None:
    operator = signed_in("operator")
    too_long = operator.post("/console/policies", {"environment": "e" * 200, "enabled": "on"})
    assert too_long.status_code == 422 and "environment must be" in too_long.text
    codes = "\n".join(f"E_CODE_{i}" for i in range(101))
    too_many = operator.post("/console/policies", {"environment": "console-env", "blocked_diagnostic_codes": codes})
    assert too_many.status_code == 422 and "maximum item count" in too_many.text
    assert stack.call("GET", "/v1/policies/environment/console-env").json()["policy"] is None
    saved = operator.post(
        "/console/policies", {"environment": "console-env", "enabled": "on", "require_guardrails": "on"}
    )
    assert saved.status_code == 200 and "Policy for console-env saved." in saved.text
    stored = stack.call("GET", "/v1/policies/environment/console-env").json()["policy"]
    assert stored["require_guardrails"] is True and stored["require_human_review"] is False


def test_no_key_or_secret_is_rendered(stack: Api, signed_in: Session) -> None:
    admin = signed_in("admin")
    pages = [
        "/console/runs",
        "/console/credentials",
        "/console/health",
        "/console/audit",
        "/console/policies",
        "/console/human",
    ]
    for path in pages:
        text = admin.get(path).text
        assert PROVIDER_SECRET not in text, path
        assert all(key not in text for key in KEYS.values()), path
    assert "OPENAI_API_KEY" in admin.get("/console/credentials").text


def _serializer() -> URLSafeTimedSerializer:
    """Flask's own session cookie serializer, keyed with the console secret the topology was given."""
    return URLSafeTimedSerializer(
        CONSOLE_SECRET.encode(),
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )


def _decoded(session: Browserless) -> dict[str, object]:
    return dict(_serializer().loads(session.http.cookies["kneo_console"]))


def _signed_at(data: dict[str, object], when: float) -> str:
    serializer = _serializer()
    signer = serializer.make_signer(serializer.salt)
    signer.get_timestamp = lambda: int(when)  # type: ignore[method-assign]
    payload = serializer.dump_payload(data)
    return signer.sign(payload).decode()


def test_sign_out_ends_the_session(stack: Api, signed_in: Session) -> None:
    operator = signed_in("operator")
    page = operator.get("/console/runs")
    assert page.status_code == 200 and "Sign out" in page.text
    cookie_before = operator.http.cookies["kneo_console"]
    answer = operator.post("/console/sign-out", {}, csrf_from=page.text)
    assert answer.status_code == 200 and "/console/sign-in" in answer.url
    after = operator.http.get(stack.base_url + "/console/runs", allow_redirects=False, timeout=30)
    assert after.status_code == 302 and "/console/sign-in" in after.headers["Location"]
    assert "principal" not in _decoded(operator)
    assert cookie_before != operator.http.cookies.get("kneo_console")
