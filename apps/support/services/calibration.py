"""The handoff confidence follows the intent model: recalibrated whenever a new version goes to
production, whatever started it (`support_train`, a run from the lifecycle pages, a promotion,
an override or a rollback), through the model kind's `on_production` hook."""

from __future__ import annotations

import logging
from typing import Any

from ..intent import eval_rows_of_production, production_intent_version
from ..models import KnowledgeBase
from ..selectors import knowledge_base_get
from .knowledge import knowledge_base_calibrate

log = logging.getLogger(__name__)
# Held-out rows judged per calibration (each is a retrieval and an intent prediction).
CALIBRATION_ROWS = 1000
MIN_CALIBRATION_ROWS = 10


def intent_calibration_refresh(*, version: int | None = None) -> dict[str, Any] | None:
    """Refit the default knowledge base's calibration on the production intent model's held-out
    rows, unless it was fitted for that version already. Returns the table in use, or None when
    there is no model, no knowledge base or too few held-out rows.

    `version` is the version the caller saw promoted; a later promotion may have overtaken it,
    so the production version is read again and that one is calibrated."""
    current = production_intent_version()
    if current is None:
        return None
    if version is not None and version != current:
        log.info(
            "intent v%s is no longer in production (v%s is); calibrating that", version, current
        )
    try:
        kb = knowledge_base_get()
    except KnowledgeBase.DoesNotExist:
        return None
    if kb.calibration.get("intent_version") == current:
        return dict(kb.calibration)
    held = eval_rows_of_production()[:CALIBRATION_ROWS]
    if len(held) < MIN_CALIBRATION_ROWS:
        return None
    return knowledge_base_calibrate(kb_id=kb.pk, rows=held, model_version=current)
