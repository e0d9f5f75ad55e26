"""The operation guide's smoke, staging and compose commands, run as written.

Each command below is copied from the guide; only ``python`` becomes this interpreter and the
guide's ``http://127.0.0.1:8000`` / ``https://staging.example.com`` become the production topology
started here (gunicorn, Celery worker and beat, PostgreSQL, Redis) with the keys of
``deploy/production.env.example`` and of a rendered ``deploy/staging.env``. ``docker compose …
up`` is checked with ``docker compose … config`` (no container engine runs the tests).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.ops.test_ops_deploy import STAGING, compose_checkout, compose_config
from tests.support.services import ROOT, Topology, create_database, drop_database, query, start_topology

sys.path.insert(0, str(ROOT / "scripts"))

from render_staging_env import api_key_roles, read_env_file

pytestmark = pytest.mark.e2e

SMOKE_UNVERSIONED = r"""python scripts/deployment_smoke.py \
  --base-url http://127.0.0.1:8000 \
  --api-key replace-admin-token \
  --operator-api-key replace-operator-token \
  --reviewer-api-key replace-reviewer-token \
  --viewer-api-key replace-viewer-token \
  --expect-auth"""
SMOKE_VERSIONED = r"""python scripts/deployment_smoke.py \
  --base-url http://127.0.0.1:8000 \
  --api-prefix /v1 \
  --api-key replace-admin-token \
  --operator-api-key replace-operator-token \
  --reviewer-api-key replace-reviewer-token \
  --viewer-api-key replace-viewer-token \
  --expect-auth"""
REMOTE_SMOKE = "python scripts/deployment_smoke.py --api-prefix /v1 --expect-auth"
RENDER = "python scripts/render_staging_env.py --output deploy/staging.env"
GATE = r"""python scripts/staging_release_gate.py \
  --env-file deploy/staging.env \
  --base-url https://staging.example.com"""
SMOKE_CHECKS = [
    "health",
    "readiness",
    "auth",
    "spec validation",
    "run creation",
    "human resume",
    "audit listing",
    "credential inventory",
    "policy update",
]


@dataclass
class Guide:
    topology: Topology
    checkout: Path
    staging: dict[str, str]

    def run(self, command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """One guide command line in the checkout, pointed at the topology."""
        line = command.replace("\\\n", " ").replace("http://127.0.0.1:8000", self.topology.base_url)
        argv = shlex.split(line)
        argv = [self.topology.base_url if a == "https://staging.example.com" else a for a in argv]
        assert argv[0] == "python" and argv[1].startswith(("scripts/", "examples/"))
        argv = [sys.executable, str(ROOT / argv[1]), *argv[2:]]
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("KNEO_STAGING_", "KNEO_SMOKE_"))}
        return subprocess.run(
            argv, cwd=self.checkout, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=300
        )


@pytest.fixture(scope="module")
def guide(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guide]:
    """The topology with the production example's keys and the rendered staging file's settings."""
    tmp = tmp_path_factory.mktemp("guide")
    checkout = compose_checkout(tmp)
    rendered = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "render_staging_env.py"), *shlex.split(RENDER)[2:]],
        cwd=checkout,
        env={**os.environ, **STAGING},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rendered.returncode == 0, rendered.stderr
    staging = read_env_file(checkout / "deploy" / "staging.env")
    production = read_env_file(checkout / "deploy" / "production.env")
    served = {
        name: staging[name]
        for name in (
            "KNEO_SERV_REQUIRE_PROVIDER_SECRETS",
            "KNEO_SERV_HEALTH_PROVIDERS",
            "KNEO_SERV_HEALTH_MCP_SECRETS",
            "KNEO_SERV_OTEL_RECORD_ARGUMENTS",
            "KNEO_SERV_OTEL_RECORD_RESULTS",
            "KNEO_SERV_TRUSTED_PROXIES",
            "OPENAI_API_KEY",
            "MCP_API_KEY",
        )
    }
    topology = start_topology(
        tmp / "stack",
        module_database_url,
        KNEO_SERV_API_KEYS=f"{production['KNEO_SERV_API_KEYS']};{staging['KNEO_SERV_API_KEYS']}",
        KNEO_SERV_ADMIN_API_KEY=production["KNEO_SERV_ADMIN_API_KEY"],
        **served,
    )
    try:
        yield Guide(topology, checkout, staging)
    finally:
        topology.stop()


@pytest.mark.parametrize("command", [SMOKE_UNVERSIONED, SMOKE_VERSIONED], ids=["unversioned", "v1"])
def test_smoke_commands_against_the_compose_keys(guide: Guide, command: str) -> None:
    result = guide.run(command)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == f"{len(SMOKE_CHECKS)} passed, 0 failed"
    assert [line.split(":")[0][2:] for line in result.stdout.splitlines()[:-1]] == SMOKE_CHECKS
    assert "viewer refused" in result.stdout


def _staging_tokens(guide: Guide) -> dict[str, str]:
    by_role = api_key_roles(guide.staging["KNEO_SERV_API_KEYS"])
    return {
        "KNEO_STAGING_BASE_URL": guide.topology.base_url,
        "KNEO_STAGING_OPERATOR_TOKEN": by_role["operator"],
        "KNEO_STAGING_REVIEWER_TOKEN": by_role["reviewer"],
        "KNEO_STAGING_VIEWER_TOKEN": by_role["viewer"],
    }


def test_remote_staging_smoke_from_the_environment(guide: Guide) -> None:
    result = guide.run(REMOTE_SMOKE, _staging_tokens(guide))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "viewer refused" in result.stdout and "0 failed" in result.stdout


def test_remote_staging_smoke_without_the_optional_viewer(guide: Guide) -> None:
    env = {k: v for k, v in _staging_tokens(guide).items() if k != "KNEO_STAGING_VIEWER_TOKEN"}
    result = guide.run(REMOTE_SMOKE, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "403 checks skipped" in result.stdout and "viewer refused" not in result.stdout


def test_remote_staging_smoke_fails_on_a_wrong_token(guide: Guide) -> None:
    env = {**_staging_tokens(guide), "KNEO_STAGING_OPERATOR_TOKEN": "wrong-token-0123456789"}
    result = guide.run(REMOTE_SMOKE, env)
    assert result.returncode == 1
    assert "✗ spec validation" in result.stdout


def test_staging_release_gate_as_written(guide: Guide) -> None:
    result = guide.run(GATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deploy/staging.env: valid" in result.stdout
    assert result.stdout.splitlines()[-1] == "release gate: PASSED"


def test_staging_release_gate_refuses_payload_capture(guide: Guide) -> None:
    path = guide.checkout / "deploy" / "staging.env"
    original = path.read_text()
    try:
        path.write_text(original.replace("KNEO_SERV_OTEL_RECORD_RESULTS=false", "KNEO_SERV_OTEL_RECORD_RESULTS=true"))
        result = guide.run(GATE)
    finally:
        path.write_text(original)
    assert result.returncode == 1
    assert "KNEO_SERV_OTEL_RECORD_RESULTS must stay false" in result.stdout
    assert result.stdout.splitlines()[-1] == "release gate: FAILED"


def test_compose_commands_production(guide: Guide) -> None:
    """cp deploy/production.env.example deploy/production.env; docker compose --env-file … up --build."""
    config = compose_config("--env-file", "deploy/production.env", cwd=guide.checkout)
    services = config["services"]
    assert {"api", "db", "worker", "beat", "flower", "redis"} <= set(services)
    assert services["migrate"]["build"]["context"] == str(guide.checkout), "up --build builds the image"
    assert [(p["host_ip"], p["published"], p["target"]) for p in services["api"]["ports"]] == [
        ("127.0.0.1", "8000", 8000)
    ]
    moved = compose_config("--env-file", "deploy/production.env", env={"KNEO_SERV_PORT": "9000"}, cwd=guide.checkout)
    assert moved["services"]["api"]["ports"][0]["published"] == "9000"
    db = services["db"]
    assert db["environment"]["POSTGRES_USER"] == "kneo" and db["environment"]["POSTGRES_DB"] == "kneo"
    assert any(v["source"] == "pgdata" and v["target"] == "/var/lib/postgresql/data" for v in db["volumes"])
    with_tls = compose_config("--env-file", "deploy/production.env", "--profile", "tls", cwd=guide.checkout)
    assert "nginx" in with_tls["services"]


def test_compose_commands_staging(guide: Guide) -> None:
    """KNEO_SERV_ENV_FILE=./deploy/staging.env docker compose --env-file deploy/staging.env up --build -d."""
    env = {"KNEO_SERV_ENV_FILE": "./deploy/staging.env"}
    config = compose_config("--env-file", "deploy/staging.env", env=env, cwd=guide.checkout)
    for name in ("api", "worker", "beat", "migrate"):
        environment = config["services"][name]["environment"]
        assert environment["KNEO_SERV_API_KEYS"] == guide.staging["KNEO_SERV_API_KEYS"]
        assert environment["KNEO_SERV_REQUIRE_PROVIDER_SECRETS"] == "true"
    assert config["services"]["db"]["environment"]["POSTGRES_PASSWORD"] == STAGING["KNEO_STAGING_POSTGRES_PASSWORD"]
    assert json.dumps(config).count("replace-operator-token") == 0, "the production file is not read"
    legacy = compose_config(
        "--env-file", "deploy/staging.env", env={"KNEO_ENV_FILE": "./deploy/staging.env"}, cwd=guide.checkout
    )
    assert legacy["services"]["api"]["environment"] == config["services"]["api"]["environment"], "the earlier name"


@pytest.mark.parametrize(
    ("example", "status"),
    [
        ("smoke_human_workflow.yaml", "blocked"),
        ("human_approval_workflow.yaml", "blocked"),
        ("concurrent_review_workflow.yaml", "blocked"),
        ("group_chat_workflow.yaml", "completed"),
    ],
)
def test_the_example_specs_the_guide_names_run(guide: Guide, example: str, status: str) -> None:
    spec = yaml.safe_load((ROOT / "examples" / example).read_text())
    headers = {"Authorization": "Bearer replace-operator-token"}
    base = guide.topology.base_url
    valid = requests.post(f"{base}/v1/specs/validate", json={"spec": spec}, headers=headers, timeout=30).json()
    assert valid["valid"] is True, valid
    run = requests.post(
        f"{base}/v1/runs", json={"input": "quarterly metrics", "spec": spec}, headers=headers, timeout=60
    )
    assert run.status_code == 200 and run.json()["status"] == status, run.text


def test_run_with_timeout_example(guide: Guide) -> None:
    command = (
        f"python examples/run_with_timeout.py --base-url {guide.topology.base_url} --api-key replace-operator-token"
    )
    result = guide.run(command + " --timeout-seconds 2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "timed_out (run_timed_out)" in result.stdout and "run.timed_out" in result.stdout


# The backup chapter's recipes without their `docker compose --env-file deploy/production.env exec [-T] db`
# prefix: the same pg_dump/psql flags against the test PostgreSQL (PGHOST instead of the db container).
FULL_DUMP = 'pg_dump -U "$POSTGRES_USER" "$POSTGRES_DB" | gzip > "kneo_serv-$(date +%Y%m%d-%H%M).sql.gz"'
FULL_RESTORE = 'gunzip -c {dump} | psql -U "$POSTGRES_USER" "$POSTGRES_DB"'
DATA_DUMP = 'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --data-only --inserts -f /tmp/kneo_serv_data.sql'
DATA_FILTER = 'grep -v "INSERT INTO public.schema_migrations" /tmp/kneo_serv_data.sql > /tmp/kneo_serv_data_restore.sql'
DATA_RESTORE = 'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f /tmp/kneo_serv_data_restore.sql'
COUNTED = ("runs", "step_runs", "checkpoints", "audit_events", "human_tasks", "environment_policies")


def _shell(command: str, cwd: Path, database: str) -> None:
    env = {**os.environ, "PGHOST": "127.0.0.1", "POSTGRES_USER": "postgres", "POSTGRES_DB": database}
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"


def _counts(url: str) -> dict[str, int]:
    """Row counts of the tables a restore must bring back (one connection)."""
    selects = ", ".join(f"(SELECT count(*) FROM {table})" for table in COUNTED)
    return dict(zip(COUNTED, query(url, f"SELECT {selects}")[0], strict=True))


def test_backup_and_restore_recipes(guide: Guide, tmp_path: Path) -> None:
    source = guide.topology.env["KNEO_SERV_DATABASE_URL"]
    for example in ("group_chat_workflow.yaml", "smoke_human_workflow.yaml"):  # a finished and a blocked run
        spec = yaml.safe_load((ROOT / "examples" / example).read_text())
        body = {"input": "backup drill", "spec": spec}
        headers = {"Authorization": "Bearer replace-operator-token"}
        assert requests.post(f"{guide.topology.base_url}/v1/runs", json=body, headers=headers, timeout=60).ok
    expected = _counts(source)
    assert expected["runs"] > 0 and expected["audit_events"] > 0
    _shell(FULL_DUMP, tmp_path, source.rsplit("/", 1)[1])
    (dump,) = tmp_path.glob("kneo_serv-*.sql.gz")
    restored = create_database()
    data_restored = create_database()
    try:
        _shell(FULL_RESTORE.format(dump=dump.name), tmp_path, restored.rsplit("/", 1)[1])
        assert _counts(restored) == expected
        assert query(restored, "SELECT version_num FROM schema_migrations") == query(
            source, "SELECT version_num FROM schema_migrations"
        )

        # Data-only restore into a database the current version migrated first.
        env = {**guide.topology.env, "KNEO_SERV_DATABASE_URL": data_restored}
        flask = Path(sys.executable).parent / "flask"
        migrated = subprocess.run(
            [str(flask), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert migrated.returncode == 0, migrated.stderr
        for command in (DATA_DUMP, DATA_FILTER):
            _shell(command.replace("/tmp/", f"{tmp_path}/"), tmp_path, source.rsplit("/", 1)[1])
        _shell(DATA_RESTORE.replace("/tmp/", f"{tmp_path}/"), tmp_path, data_restored.rsplit("/", 1)[1])
        assert _counts(data_restored) == expected
    finally:
        drop_database(restored)
        drop_database(data_restored)
