"""How the embedder's forms are timed (mlcore/serving/embedder_forms.py), on a fake clock."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mlcore.serving import embedder_forms
from mlcore.serving.choice import SINGLE_TEXTS


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(embedder_forms.time, "perf_counter", fake)
    return fake


def test_forms_are_timed_in_turns_and_each_keeps_its_best_round(clock: Clock) -> None:
    texts = [f"text {i}" for i in range(64)]
    calls: list[str] = []
    rounds_seen = {"fast": 0}

    def form(name: str, per_call: float, per_text: float):  # type: ignore[no-untyped-def]
        def embed(batch: Sequence[str]) -> None:
            calls.append(name)
            cost = per_call + per_text * len(batch)
            # Other work takes the cores during the fast form's whole first round (after the
            # warm-up): timed form after form, that burst would be all it had.
            if name == "fast" and len(batch) == len(texts):
                rounds_seen["fast"] += 1
            if name == "fast" and rounds_seen["fast"] == 1:
                cost *= 10
            clock.now += cost

        return embed

    rates = embedder_forms.rates_in_turns(
        {"fast": form("fast", 0.001, 0.001), "slow": form("slow", 0.001, 0.003)},
        texts,
        rounds=3,
    )

    assert rates["fast"] == (pytest.approx(64 / 0.065, rel=1e-3), pytest.approx(1 / 0.002))
    assert rates["slow"] == (pytest.approx(64 / 0.193, rel=1e-3), pytest.approx(1 / 0.004))
    # After one warm-up call each: a whole batch and SINGLE_TEXTS single calls a form, in turns.
    per_turn = 1 + SINGLE_TEXTS
    turns = [calls[2 + i * per_turn] for i in range(6)]
    assert turns == ["fast", "slow"] * 3
    assert len(calls) == 2 + 6 * per_turn


def test_a_form_that_never_took_time_is_recorded_as_unmeasured(clock: Clock) -> None:
    rates = embedder_forms.rates_in_turns({"free": lambda batch: None}, ["a", "b"], rounds=2)

    assert rates == {"free": (0.0, 0.0)}
