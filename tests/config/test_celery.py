"""The Celery app's worker hooks: a new pool process reports up before its models are warm."""

from __future__ import annotations

import threading

import pytest

from apps.mlops import services as mlops
from config import celery


def test_a_new_pool_process_is_not_held_by_its_model_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Celery kills a prefork child that has not reported up within worker_proc_alive_timeout
    # (4 s); loading the models takes longer, so the init hook must not wait for them.
    gate = threading.Event()
    warmed: list[bool] = []
    threads_before = set(threading.enumerate())

    def slow_warm() -> list[str]:
        warmed.append(gate.wait(timeout=20))  # False: the hook held the process meanwhile
        return []

    monkeypatch.setattr(mlops, "models_warm", slow_warm)

    celery._on_worker_process_init()
    returned_before_warm_up = warmed == []
    gate.set()
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=20)

    assert returned_before_warm_up
    assert warmed == [True]


def test_a_failing_warm_up_in_the_background_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> list[str]:
        raise FileNotFoundError("no production model")

    monkeypatch.setattr(mlops, "models_warm", broken)

    celery._warm_models_in_background().join(timeout=20)

    assert "model warm-up failed" in caplog.text
