"""Another process serving a model switches to a promoted version without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from apps.mlops import services

from .conftest import lookup_version

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SERVER = """
import sys, time, django
django.setup()
from apps.mlops.services import model_load
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        print(model_load("test-lookup").predict(["x"])[0][0], flush=True)
    except Exception as exc:
        print("ERROR", type(exc).__name__, exc, flush=True)
    time.sleep(0.05)
"""


def _read_until(proc: subprocess.Popen[str], wanted: str, timeout: float = 30) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline().strip()
        seen.append(line)
        if line == wanted:
            return seen
    raise AssertionError(f"never saw {wanted!r}; last lines: {seen[-5:]}")


def test_a_serving_process_picks_up_a_promotion_and_a_rollback(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, "a", promote=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ML_MODEL_DIR": str(settings.ML_MODEL_DIR),
        "ML_KIND_MODULES": "tests.mlops.kinds",
        "CELERY_EMBEDDED_WORKER": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _read_until(proc, "a")

        with django_capture_on_commit_callbacks(execute=True):
            lookup_version(0.9, "b", promote=True)
        after_promotion = _read_until(proc, "b")
        with django_capture_on_commit_callbacks(execute=True):
            services.model_version_rollback(name="test-lookup", version=1)
        after_rollback = _read_until(proc, "a")
    finally:
        proc.kill()
        proc.wait()

    assert not [line for line in after_promotion + after_rollback if line.startswith("ERROR")]
