"""The real MiniLM embedder and a real fine-tuned intent model (slow)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from apps.mlops.services import model_available
from apps.support.answers import answer_compose
from apps.support.intent import INTENT_MODEL

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def demo_kb(model_dirs, embedder):
    from apps.support import demo, retrieval

    retrieval.retrieval_state_reset()
    kb = demo.demo_knowledge_load(log=lambda _m: None)
    yield kb
    retrieval.retrieval_state_reset()


def test_demo_help_centre_answers_from_the_right_articles(demo_kb):
    from apps.support.selectors import article_intents_map

    intents_of = article_intents_map(kb_id=demo_kb.pk)

    card = answer_compose(kb_id=demo_kb.pk, question="When will my new card arrive?")
    paraphrase = answer_compose(kb_id=demo_kb.pk, question="My card still hasn't come in the post")
    pin = answer_compose(kb_id=demo_kb.pk, question="how can I change the PIN of my card?")
    nonsense = answer_compose(kb_id=demo_kb.pk, question="what's the best pizza topping")

    assert "card_arrival" in intents_of[card.top_article_id]
    assert card.citations and not card.handoff
    top3 = {s["article_id"] for s in paraphrase.sources[:3]}
    assert any("card_arrival" in intents_of[a] for a in top3)
    assert {"change_pin", "pin_blocked"} & set(intents_of[pin.top_article_id])
    assert nonsense.confidence < card.confidence
    assert nonsense.kind == "out_of_scope" and not nonsense.handoff


def test_demo_help_centre_answers_a_follow_up_from_the_conversation(demo_kb):
    from apps.support.memory import Exchange
    from apps.support.selectors import article_intents_map

    intents_of = article_intents_map(kb_id=demo_kb.pk)
    history = [Exchange("I ordered a new card last week", "(answer)", "extractive")]

    follow = answer_compose(kb_id=demo_kb.pk, question="how long does that take?", history=history)

    top3 = {s["article_id"] for s in follow.sources[:3]}
    assert any({"card_arrival", "card_delivery_estimate"} & set(intents_of[a]) for a in top3)
    assert not follow.handoff and follow.kind != "out_of_scope"


def test_support_train_and_evaluate_commands(kb, tmp_path):
    data = tmp_path / "tickets.csv"
    rows = ["text,category"]
    for i in range(4):
        rows += [
            f"where is my card number {i},card_arrival",
            f"I want to change my PIN code {i},change_pin",
        ]
    data.write_text("\n".join(rows) + "\n")
    out = StringIO()

    call_command("support_train", data=str(data), epochs=1, max_steps=2, stdout=out)
    report = StringIO()
    call_command("support_evaluate", data=str(data), stdout=report)

    assert model_available(INTENT_MODEL)
    last = json.loads(report.getvalue().strip().splitlines()[-1])
    assert last["n"] == 8
    assert {"accuracy", "macro_f1", "article_hit_at_1", "article_hit_at_3", "thresholds"} <= set(
        last
    )
    assert all(
        {"answered_rate", "handoff_rate", "answered_accuracy"} <= set(row)
        for row in last["thresholds"]
    )


def test_support_train_refuses_a_csv_without_the_columns(kb, tmp_path):
    from django.core.management.base import CommandError

    data = tmp_path / "bad.csv"
    data.write_text("question,answer\nhi,there\n")

    with pytest.raises(CommandError, match="text,category"):
        call_command("support_train", data=str(data))


def test_support_train_can_build_a_two_member_ensemble(kb, tmp_path):
    from apps.mlops.services import model_load

    data = tmp_path / "tickets.csv"
    rows = ["text,category"]
    for i in range(4):
        rows += [f"where is my card number {i},card_arrival", f"change my PIN {i},change_pin"]
    data.write_text("\n".join(rows) + "\n")

    call_command(
        "support_train",
        data=str(data),
        epochs=1,
        max_steps=2,
        ensemble=2,
        neighbours_k=0,
        promote=True,
        stdout=StringIO(),
    )
    model = model_load(INTENT_MODEL)

    assert len(model.model.members) == 2 and model.neighbours is None
    assert {p.label for p in model.predict(["where is my card"])} <= {"card_arrival", "change_pin"}
