"""The support app's adapted base: registered as a model kind, and the base intent training
starts from once it is in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apps.mlops import services
from apps.mlops.kinds import kind_get
from apps.support.adaptation import support_texts
from apps.support.models import KnowledgeBase, PastConversation
from tests.adapted_base import adapted_base_promoted

pytestmark = pytest.mark.django_db


def test_the_support_base_reads_past_questions_and_replies(model_dirs: Path) -> None:
    kb = KnowledgeBase.objects.create(name="Help")
    PastConversation.objects.create(
        kb=kb, question="Where is my card?", best_reply="It ships in 3 days.", intent="card_arrival"
    )

    texts = support_texts()

    assert kind_get("support-base").gate is not None
    assert "Where is my card?" in texts and "It ships in 3 days." in texts


@pytest.mark.slow
def test_intent_training_starts_from_the_production_adapted_base(
    model_dirs: Path, django_capture_on_commit_callbacks: Any
) -> None:
    adapted = adapted_base_promoted(
        "support-base",
        model_dirs,
        {"gain": 0.02, "macro_f1": 0.8},
        django_capture_on_commit_callbacks,
    )
    data = model_dirs / "intents.csv"
    rows = [f"where is my card {i},card_arrival" for i in range(10)]
    rows += [f"I want a refund {i},request_refund" for i in range(10)]
    data.write_text("text,category\n" + "\n".join(rows) + "\n")

    version, _ = services.version_train_and_register(
        name="support-intent",
        params={"data": str(data), "max_steps": 1},
        promote=False,
        log=lambda _line: None,
    )

    expected = services.registry().artifact_path("support-base", adapted.version)
    assert version.base_model == str(expected)
