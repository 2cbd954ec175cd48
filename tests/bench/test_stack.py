"""bench/stack.py's web start-up: one daphne, or N daphne processes on one listening socket."""

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
