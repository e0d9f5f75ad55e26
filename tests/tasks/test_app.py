"""Importing kneo.tasks does no work: no Celery app, no signal receivers, no configuration read."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import kneo.tasks, kneo.tasks.dispatch, kneo.tasks.steps, kneo.tasks.sweeps
from celery import _state, signals
from kneo.tasks.app import celery_app_built

def state():
    return {
        "apps": len(list(_state._apps)),
        "built": celery_app_built(),
        "receivers": sum(len(s.receivers) for s in (signals.worker_init, signals.worker_process_init,
                                                     signals.after_setup_logger, signals.beat_init)),
        "celeryconfig": "celeryconfig" in sys.modules,
    }

before = state()
kneo.tasks.app.conf.task_acks_late  # what `celery -A kneo.tasks` does first: resolve the app
print(json.dumps({"before": before, "after": state()}))
"""


def test_importing_kneo_tasks_builds_and_connects_nothing_until_the_app_is_used() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    states = json.loads(result.stdout.strip().splitlines()[-1])
    assert states["before"] == {"apps": 0, "built": False, "receivers": 0, "celeryconfig": False}
    after = states["after"]
    assert after["apps"] == 1 and after["built"] and after["celeryconfig"]
    assert after["receivers"] >= 4
