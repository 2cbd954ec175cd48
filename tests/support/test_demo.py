"""The support demo's trainer: `demo_train --max-steps` caps the intent model's fine-tuning."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from apps.support import demo

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("max_steps", "expected"), [(3, 3), (None, None)])
def test_the_intent_run_gets_the_step_cap_it_was_given(
    monkeypatch: pytest.MonkeyPatch, max_steps: int | None, expected: int | None
) -> None:
    started: list[dict[str, Any]] = []

    def train_here(*, name: str, params: dict[str, Any], log: Any) -> SimpleNamespace:
        started.append({"name": name, **params})
        return SimpleNamespace(metrics={"accuracy": 0.9})

    monkeypatch.setattr(demo.mlops_services, "model_available", lambda _name: False)
    monkeypatch.setattr(demo.mlops_services, "model_train_here", train_here)
    monkeypatch.setattr(demo, "eval_rows_of_production", list)

    demo.demo_train(log=lambda _line: None, max_steps=max_steps)

    assert [run["name"] for run in started] == [demo.INTENT_MODEL]
    assert started[0].get("max_steps") == expected
    assert started[0]["kb_id"] > 0
