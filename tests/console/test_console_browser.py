"""The console in real headless Chromium against the production topology.

Every page is also captured whole at desktop and phone widths under the test's temporary directory
(``KNEO_CONSOLE_SCREENSHOTS`` names another directory to keep them, as docs/console.md does).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support import specs
from tests.support.services import KEYS, ROOT, Api

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("KNEO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KNEO_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
MAX_SHOT_HEIGHT = 4_000
EXAMPLE_KINDS = {
    "sequential_pipeline.yaml": "sequential",
    "concurrent_fanout.yaml": "concurrent",
    "graph_triage.yaml": "graph",
    "group_chat_debate.yaml": "group_chat",
    "handoff_escalation.yaml": "handoff",
    "nested_workflows.yaml": "sequential",
}


@pytest.fixture(scope="module")
def chrome() -> Iterator[WebDriver]:
    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: `make test` installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("KNEO_CONSOLE_SCREENSHOTS")
    directory = Path(kept) if kept else tmp_path_factory.mktemp("console-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class Console:
    """One browser, signed in as one role at a time."""

    def __init__(self, driver: WebDriver, api: Api, shots: Path) -> None:
        self.driver, self.api, self.shots = driver, api, shots

    def open(self, path: str) -> None:
        self.driver.get(self.api.base_url + path)

    def sign_in(self, role: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/console/sign-in")
        self.driver.find_element(By.ID, "api_key").send_keys(KEYS[role])
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait_for(lambda: "/console/runs" in self.driver.current_url)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_for(self, condition: Any, timeout: float = 60, reload: bool = False) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out on {self.driver.current_url}: {self.text()[:800]}")
            time.sleep(0.5)
            if reload:
                self.driver.refresh()

    def capture(self, name: str) -> None:
        for label, (width, height) in WIDTHS.items():
            self.driver.set_window_size(width, height)
            full = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
            self.driver.set_window_size(width, max(height, min(full + 120, MAX_SHOT_HEIGHT)))
            path = self.shots / f"{name}-{label}.png"
            self.driver.save_screenshot(str(path))
            assert path.stat().st_size > 2_000, path
        self.driver.set_window_size(*WIDTHS["desktop"])

    def nav(self) -> list[str]:
        return [a.text for a in self.driver.find_elements(By.CSS_SELECTOR, "header nav a")]


@pytest.fixture
def console(chrome: WebDriver, stack: Api, shots: Path) -> Console:
    chrome.set_window_size(*WIDTHS["desktop"])
    return Console(chrome, stack, shots)


def blocked(api: Api, text: str) -> dict[str, Any]:
    run = api.create_run(specs.human_flow(), text, async_mode=True)
    return api.wait_status(run["run_id"], {"blocked"})


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        ("admin", ["Runs", "Human inbox", "Audit log", "Policies", "Credentials", "Health"], []),
        ("operator", ["Runs", "Human inbox", "Audit log", "Policies", "Credentials", "Health"], []),
        ("reviewer", ["Runs", "Human inbox", "Audit log", "Health"], ["Policies", "Credentials"]),
        ("viewer", ["Runs", "Human inbox", "Audit log", "Health"], ["Policies", "Credentials"]),
    ],
)
def test_each_role_signs_in_and_sees_its_sections(
    console: Console, role: str, expected: list[str], absent: list[str]
) -> None:
    console.sign_in(role)
    links = console.nav()
    assert all(name in links for name in expected), links
    assert not any(name in links for name in absent), links
    assert KEYS[role] not in console.driver.page_source


def test_a_reviewer_approves_a_blocked_run_and_sees_it_complete(console: Console) -> None:
    run = blocked(console.api, "approve me in the browser")
    console.sign_in("reviewer")
    console.open("/console/human")
    console.capture("inbox")
    console.driver.find_element(By.CSS_SELECTOR, f"a[href='/console/human/{run['continuation_id']}']").click()
    assert "Approve the draft" in console.text()
    console.capture("task")
    console.driver.find_element(By.CSS_SELECTOR, "button[value=approved]").click()
    console.wait_for(lambda: f"/console/runs/{run['run_id']}" in console.driver.current_url)
    console.wait_for(lambda: "completed" in console.driver.find_element(By.CSS_SELECTOR, "h1 .badge").text, reload=True)
    assert console.api.run(run["run_id"])["status"] == "completed"
    console.capture("run-completed")
    console.open(f"/console/human/{run['continuation_id']}")
    decided = console.text()
    assert "approved" in decided and "reviewer" in decided


def test_a_reviewer_rejects_with_a_comment(console: Console) -> None:
    run = blocked(console.api, "reject me")
    console.sign_in("reviewer")
    console.open(f"/console/human/{run['continuation_id']}")
    console.driver.find_element(By.ID, "content").send_keys("needs sources")
    console.driver.find_element(By.CSS_SELECTOR, "button[value=rejected]").click()
    console.wait_for(lambda: f"/console/runs/{run['run_id']}" in console.driver.current_url)
    final = console.api.wait_status(run["run_id"], {"completed", "failed"})
    assert final["status"] == "completed"
    trace = console.api.call("GET", f"/v1/runs/{run['run_id']}/trace?limit=500").text
    assert "Rejected by human reviewer: needs sources" in trace
    audit = console.api.call("GET", f"/v1/audit-events?run_id={run['run_id']}&event_type=human.decision").json()
    assert audit["events"][0]["metadata"]["decision"] == "rejected"


def test_a_viewer_cannot_act(console: Console) -> None:
    run = blocked(console.api, "viewer looks")
    console.sign_in("viewer")
    console.open(f"/console/runs/{run['run_id']}")
    with pytest.raises(NoSuchElementException):
        console.driver.find_element(By.XPATH, "//button[contains(., 'Cancel run')]")
    console.open(f"/console/human/{run['continuation_id']}")
    assert "can read this task but not decide it" in console.text()
    assert not console.driver.find_elements(By.CSS_SELECTOR, "button[value=approved]")
    assert console.api.run(run["run_id"])["status"] == "blocked"


def test_a_failed_run_shows_its_error_and_step_attempts(console: Console) -> None:
    spec = specs.sequential(
        [specs.function_step("explode", "boom", max_retries=1, on_error="fail")],
        functions={"boom": "tests.support.functions.boom"},
        name="failing-flow",
    )
    run = console.api.create_run(spec, "this fails", async_mode=True)
    console.api.wait_status(run["run_id"], {"failed"}, timeout=90)
    console.sign_in("operator")
    console.open("/console/runs?status=failed&workflow=failing-flow")
    console.driver.find_element(By.CSS_SELECTOR, f"a[href='/console/runs/{run['run_id']}']").click()
    text = console.text()
    assert "Error" in text and "explode" in text
    row = console.driver.find_element(By.XPATH, "//tr[td[1][normalize-space()='explode']]").text
    assert "2 / 2" in row, row
    assert console.driver.find_elements(By.XPATH, "//button[contains(., 'Continue from last completed step')]")
    console.capture("run-failed")


@pytest.mark.parametrize("example", sorted(EXAMPLE_KINDS))
def test_the_workflow_picture_renders_for_every_example_kind(console: Console, example: str) -> None:
    spec = yaml.safe_load((ROOT / "examples" / example).read_text())
    run = console.api.create_run(spec, "quarterly metrics", async_mode=True)
    console.api.wait_status(run["run_id"], {"completed", "blocked", "failed"}, timeout=90)
    graph = console.api.call("GET", f"/v1/runs/{run['run_id']}/graph").json()
    console.sign_in("viewer")
    console.open(f"/console/runs/{run['run_id']}")
    nodes = console.driver.find_elements(By.CSS_SELECTOR, "svg.workflow g.node")
    assert len(nodes) == len(graph["nodes"]) > 0
    drawn = {n.get_attribute("data-node") for n in nodes}
    assert drawn == {n["id"] for n in graph["nodes"]}
    visited = console.driver.find_elements(By.CSS_SELECTOR, "svg.workflow g.node.state-completed")
    assert visited, "no visited node highlighted"
    assert console.driver.find_element(By.CSS_SELECTOR, "svg.workflow").size["width"] > 100
    console.capture(f"picture-{EXAMPLE_KINDS[example]}-{Path(example).stem}")


def test_every_page_renders_at_desktop_and_phone_width(console: Console) -> None:
    console.sign_in("admin")
    for name, path in (
        ("runs", "/console/runs"),
        ("audit", "/console/audit"),
        ("policies", "/console/policies"),
        ("credentials", "/console/credentials"),
        ("health", "/console/health"),
    ):
        console.open(path)
        assert console.driver.find_element(By.TAG_NAME, "h1").text
        console.capture(name)
    console.driver.delete_all_cookies()
    console.open("/console/sign-in")
    console.capture("sign-in")
