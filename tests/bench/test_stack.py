"""bench/stack.py: the web start-up (one daphne, or N daphne processes on one listening socket)
and the management commands a bench runs in the stack (set-up code, migrations)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from bench.stack import ServiceStack

pytestmark = pytest.mark.integration


def _stack(tmp_path: Path) -> ServiceStack:
    unsafe = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in unsafe}
    env.update(DATA_DIR=str(tmp_path / "data"), CELERY_EMBEDDED_WORKER="0", LOG_LEVEL="INFO")
    (tmp_path / "logs").mkdir()
    return ServiceStack(env=env, log_dir=tmp_path / "logs")


def test_two_web_processes_share_one_port_and_stop_together(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    try:
        base = stack.web_start("web", processes=2, ready_path="/healthz")
        pids = stack.pids("web")
        answers = [httpx.get(f"{base}/healthz", timeout=30) for _ in range(4)]
        logs = [stack.log(member) for member in ("web.0", "web.1")]
    finally:
        stack.stop_all()

    assert len(set(pids)) == 2
    assert [a.status_code for a in answers] == [200] * 4
    assert all("Listening on" in log for log in logs)
    assert stack.pids("web") == [] and not stack.processes


def test_one_web_process_answers_on_its_own_port(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    try:
        base = stack.web_start("web", ready_path="/healthz")
        answer = httpx.get(f"{base}/healthz", timeout=30)
        pids = stack.pids("web")
    finally:
        stack.stop("web")

    assert answer.json() == {"status": "ok"}
    assert len(pids) == 1 and not stack.processes


def test_set_up_migrates_then_returns_what_follows_the_last_ready_line(tmp_path: Path) -> None:
    code = (
        "from django.db import connection\n"
        "print('ready too early')\n"
        "migrated = 'mlops_modelversion' in connection.introspection.table_names()\n"
        "print('ready', migrated, 'fp32 (no intent model)')\n"
        "print('done')\n"
    )

    assert _stack(tmp_path).set_up(code) == "True fp32 (no intent model)"


def test_a_failing_management_command_raises_with_the_end_of_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"manage.py shell failed:\n(.|\n)*not set up here"):
        _stack(tmp_path).manage("shell", "-c", "raise SystemExit('not set up here')")
