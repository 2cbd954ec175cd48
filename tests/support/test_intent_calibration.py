"""The handoff confidence is recalibrated after every intent retrain, whatever started it."""

from __future__ import annotations

import pytest

from apps.support import intent, services
from apps.support.services import calibration

pytestmark = pytest.mark.django_db

HELD = [("How long does card delivery take?", "card_delivery_estimate")] * 6 + [
    ("How do I change my PIN at an ATM?", "change_pin")
] * 6


@pytest.fixture
def production(monkeypatch):
    """A production intent model at a version the test sets, with held-out rows."""
    state = {"version": 3}
    monkeypatch.setattr(calibration, "production_intent_version", lambda: state["version"])
    monkeypatch.setattr(calibration, "eval_rows_of_production", lambda: list(HELD))
    return state


def test_a_new_production_version_refits_the_calibration_once(kb, production):
    table = services.intent_calibration_refresh(version=3)
    kb.refresh_from_db()
    fitted_at = kb.calibration["fitted_at"]

    again = services.intent_calibration_refresh(version=3)
    production["version"] = 4
    newer = services.intent_calibration_refresh(version=4)

    kb.refresh_from_db()
    assert table["n"] == len(HELD) and table["intent_version"] == 3
    assert again["fitted_at"] == fitted_at  # the same version: kept, not refitted
    assert newer["intent_version"] == 4 and kb.calibration["intent_version"] == 4


def test_a_version_overtaken_by_a_later_promotion_calibrates_the_current_one(kb, production):
    production["version"] = 5

    table = services.intent_calibration_refresh(version=4)

    assert table["intent_version"] == 5


def test_without_an_intent_model_nothing_changes(kb, monkeypatch):
    monkeypatch.setattr(calibration, "production_intent_version", lambda: None)

    assert services.intent_calibration_refresh() is None
    kb.refresh_from_db()
    assert kb.calibration == {}


def test_the_intent_kind_queues_the_recalibration_when_its_production_changes(kb, production):
    kind = intent.intent_kind()

    kind.on_production(3)  # as apps.mlops calls it after a promotion commits

    kb.refresh_from_db()
    assert kb.calibration["intent_version"] == 3 and kb.calibration["n"] == len(HELD)
