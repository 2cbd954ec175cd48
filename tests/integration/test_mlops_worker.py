"""Training runs through the real stack: web API -> Redis -> Celery worker -> PostgreSQL.

This is also the foundation's "enqueue work through the web API and see the result" test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

Stack = Any  # the fixture type from tests/integration/conftest.py (not a package)

pytestmark = pytest.mark.integration

FINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture
def lifecycle(running: Stack) -> Iterator[Stack]:
    """The stack with the test model kinds loaded in every process it starts."""
    running.env["ML_KIND_MODULES"] = "tests.mlops.kinds"
    yield running
    running.env.pop("ML_KIND_MODULES", None)


def _shell(stack: Stack, code: str) -> str:
    result = stack.manage("shell", "-c", code, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def _token(stack: Stack) -> str:
    return _shell(
        stack,
        "from apps.accounts.models import User\n"
        "from django.contrib.auth.models import Group\n"
        "from rest_framework.authtoken.models import Token\n"
        "user, _ = User.objects.get_or_create(username='it-mladmin')\n"
        "user.groups.add(Group.objects.get_or_create(name='ml_admin')[0])\n"
        "print(Token.objects.get_or_create(user=user)[0].key)",
    ).splitlines()[-1]


def _client(stack: Stack) -> httpx.Client:
    return httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Token {_token(stack)}"}, timeout=30
    )


def _wait_for(
    client: httpx.Client, run_id: int, statuses: set[str], timeout: float, stack: Stack
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/api/mlops/runs/{run_id}/").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.5)
    raise AssertionError(
        f"run {run_id} stuck at {body.get('status')}:\n{stack.log('worker')[-3000:]}"
    )


def test_tiny_real_training_run_through_the_worker(lifecycle: Stack) -> None:
    lifecycle.start_worker()
    lifecycle.start_web()
    client = _client(lifecycle)

    created = client.post(
        "/api/mlops/runs/",
        json={"model_name": "test-intent", "params": {"max_steps": 3, "epochs": 2}},
    )
    done = _wait_for(client, created.json()["id"], FINAL, 300, lifecycle)
    versions = client.get("/api/mlops/models/test-intent/versions/").json()

    assert created.status_code == 201, created.text
    assert done["status"] == "succeeded", done["error"] + done["log"]
    assert done["version"] == 1 and done["percent"] == 100.0
    assert done["progress"]["total_steps"] == 3 and done["history"]
    assert done["data_snapshot"]["size"] == 12
    assert versions[0]["is_production"] and versions[0]["metrics"]["confusion_matrix"]


def test_cancelling_a_running_run_through_the_api_stops_the_worker(lifecycle: Stack) -> None:
    lifecycle.start_worker()
    lifecycle.start_web()
    client = _client(lifecycle)
    # Other tests of the session may have registered test-lookup versions already.
    versions_before = client.get("/api/mlops/models/test-lookup/versions/").json()

    run_id = client.post(
        "/api/mlops/runs/",
        json={"model_name": "test-lookup", "params": {"steps": 600, "step_seconds": 0.05}},
    ).json()["id"]
    _wait_for(client, run_id, {"running"}, 60, lifecycle)
    cancel = client.post(f"/api/mlops/runs/{run_id}/cancel/")
    done = _wait_for(client, run_id, FINAL, 60, lifecycle)

    assert cancel.status_code == 202
    # A worker slow to start may be cancelled before its first step reports progress.
    assert done["status"] == "cancelled" and done["progress"].get("step", 0) < 600
    assert client.get("/api/mlops/models/test-lookup/versions/").json() == versions_before


def test_a_worker_killed_mid_run_leaves_the_run_failed_not_stuck(lifecycle: Stack) -> None:
    worker = lifecycle.start_worker()
    lifecycle.start_web()
    client = _client(lifecycle)
    run_id = client.post(
        "/api/mlops/runs/",
        json={"model_name": "test-lookup", "params": {"steps": 600, "step_seconds": 0.05}},
    ).json()["id"]
    _wait_for(client, run_id, {"running"}, 60, lifecycle)

    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    time.sleep(3)
    swept = _shell(
        lifecycle,
        "from apps.mlops.services import training_run_fail_stale\n"
        "print(training_run_fail_stale(older_than_s=2))",
    )
    body = client.get(f"/api/mlops/runs/{run_id}/").json()

    assert swept.splitlines()[-1] == "1"
    assert body["status"] == "failed" and "stopped reporting" in body["error"]
