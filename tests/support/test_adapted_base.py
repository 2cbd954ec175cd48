"""The support app's adapted base: registered as a model kind, and the base intent training
starts from once it is in production."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command

from apps.mlops import services
from apps.mlops.kinds import kind_get
from apps.mlops.model_store import registry
from apps.mlops.models import ModelVersion
from apps.mlops.runtime import TrainingContext
from apps.support import services as support_services
from apps.support.adaptation import article_hit, judged_texts, support_texts, task_texts
from apps.support.encoders import kb_index
from apps.support.intent import intent_train, past_labelled
from apps.support.models import Article, Chunk, KnowledgeBase, Message, PastConversation
from apps.support.retrieval import (
    CHUNK_INDEX,
    REPLY_INDEX,
    passages_retrieve,
    replies_suggest,
    reply_index_id,
)
from apps.support.services.conversations import (
    agent_message_post,
    conversation_start,
    customer_message_post,
)
from apps.support.services.knowledge import article_upsert
from apps.support.tasks import knowledge_bases_adapted_base_task
from config.celery import beat_schedule
from tests.adapted_base import adapted_base_promoted
from tests.support.conftest import HashingEmbedder

pytestmark = pytest.mark.django_db


@pytest.fixture
def promote(
    model_dirs: Path, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> Callable[..., ModelVersion]:
    """Promote a support base version; with_task=False: as if its re-embedding task was lost."""

    def promote(*, with_task: bool = True) -> ModelVersion:
        if not with_task:
            monkeypatch.setattr(
                "apps.support.tasks.knowledge_bases_adapted_base_task.delay", lambda: 0
            )
        return adapted_base_promoted(
            "support-base",
            model_dirs,
            {"gain": 0.02, "macro_f1": 0.8},
            django_capture_on_commit_callbacks,
        )

    return promote


def test_the_support_base_reads_past_questions_and_replies(model_dirs: Path) -> None:
    kb = KnowledgeBase.objects.create(name="Help")
    PastConversation.objects.create(
        kb=kb, question="Where is my card?", best_reply="It ships in 3 days.", intent="card_arrival"
    )

    texts = support_texts()

    assert kind_get("support-base").gate is not None
    assert "Where is my card?" in texts and "It ships in 3 days." in texts


def test_the_support_base_reads_passages_and_transcripts_but_not_the_bots_words(
    model_dirs: Path, django_user_model: Any, django_capture_on_commit_callbacks: Any
) -> None:
    kb = KnowledgeBase.objects.create(name="Help", greeting="Hello from the bot.")
    with django_capture_on_commit_callbacks(execute=False):
        article_upsert(
            kb_id=kb.pk, title="Lost card", body="## Freezing\nFreeze a lost card in the app."
        )
        conversation = conversation_start(kb_id=kb.pk)
        customer_message_post(conversation_id=conversation.pk, text="My card is gone")
        agent = django_user_model.objects.create_user("agent", password="x")
        agent_message_post(conversation_id=conversation.pk, agent=agent, text="Freeze it now.")

    texts = support_texts()

    assert any("Freeze a lost card in the app." in t for t in texts)
    assert "My card is gone" in texts and "Freeze it now." in texts
    # The bot's own words (greetings, generated answers) are not the company's text to learn.
    bot = Message.objects.filter(sender=Message.Sender.BOT).values_list("text", flat=True)
    assert list(bot) == ["Hello from the bot."] and "Hello from the bot." not in texts


def test_task_adaptive_pretraining_reads_the_labelled_past_questions(model_dirs: Path) -> None:
    kb = KnowledgeBase.objects.create(name="Help")
    PastConversation.objects.create(
        kb=kb, question="Where is my card?", best_reply="In 3 days.", intent="card_arrival"
    )
    PastConversation.objects.create(kb=kb, question="Unlabelled question", best_reply="Hi.")

    assert task_texts() == ["Where is my card?"]


@pytest.mark.slow
def test_intent_training_starts_from_the_production_adapted_base(
    model_dirs: Path, promote: Callable[..., ModelVersion]
) -> None:
    adapted = promote()
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


class _AdaptedStandIn:
    """The adapted base's encoder in these tests: the stand-in embedder's vectors negated, so
    a query compared with vectors of the other encoder scores below zero."""

    def __init__(self) -> None:
        self.folders: list[Path] = []
        self.texts: list[str] = []

    def __call__(self, texts: list[str], folder: Path) -> np.ndarray:
        self.folders.append(folder)
        self.texts.extend(texts)
        return -HashingEmbedder().embed(list(texts))


def _index_ids(name: str, base: int | None = None) -> set[int]:
    return set(kb_index(name, "minilm", base).current().ids().tolist())


def test_a_promoted_support_base_serves_retrieval_once_every_vector_is_in(
    kb: Any, monkeypatch: Any, promote: Callable[..., ModelVersion]
) -> None:
    adapted = _AdaptedStandIn()
    monkeypatch.setattr("apps.mlops.vectors.folder_texts_embed", adapted)
    support_services.faq_upsert(
        kb_id=kb.pk, question="How do I track my card?", answer="In the app."
    )
    chunk_ids = set(Chunk.objects.filter(kb=kb).values_list("pk", flat=True))
    assert chunk_ids <= _index_ids(CHUNK_INDEX)

    version = promote()

    kb.refresh_from_db()
    folder = registry().artifact_path("support-base", version.version)
    assert kb.adapted_base == version.version and set(adapted.folders) == {folder}
    assert chunk_ids <= _index_ids(CHUNK_INDEX, version.version)
    assert not chunk_ids & _index_ids(CHUNK_INDEX)  # the general encoder's vectors are gone
    passages = passages_retrieve(kb_id=kb.pk, query="How long does card delivery take?", k=2)
    # The question is embedded by the encoder of the index it searches: a positive cosine.
    assert passages[0].title == "Card delivery" and passages[0].dense > 0.2
    suggestions = replies_suggest(kb_id=kb.pk, query="track my card")
    assert suggestions and suggestions[0].score > 0.2
    calls = len(adapted.folders)
    support_services.article_upsert(kb_id=kb.pk, title="Lost card", body="Freeze a lost card.")
    lost = Chunk.objects.get(article__title="Lost card")
    assert lost.embedded and lost.pk in _index_ids(CHUNK_INDEX, version.version)
    assert len(adapted.folders) > calls  # later articles are embedded by it too


def test_rows_written_while_a_knowledge_base_moves_to_a_new_base_are_embedded_by_it(
    kb: Any, monkeypatch: Any, promote: Callable[..., ModelVersion]
) -> None:
    version = promote(with_task=False)
    adapted = _AdaptedStandIn()
    edited = Chunk.objects.filter(kb=kb).first()
    assert edited is not None
    written: list[PastConversation] = []

    def embed_while_rows_change(texts: list[str], folder: Path) -> np.ndarray:
        if not written:  # a past conversation arrives and a passage is edited meanwhile
            written.append(
                PastConversation.objects.create(
                    kb=kb, question="Card lost abroad", best_reply="Call us."
                )
            )
            Chunk.objects.filter(pk=edited.pk).update(content_hash="edited")
        return adapted(texts, folder)

    monkeypatch.setattr("apps.mlops.vectors.folder_texts_embed", embed_while_rows_change)

    assert support_services.knowledge_base_adapted_base_set(kb_id=kb.pk, version=version.version)

    past = PastConversation.objects.get(pk=written[0].pk)
    assert past.embedded
    assert reply_index_id("past", past.pk) in _index_ids(REPLY_INDEX, version.version)
    assert Chunk.objects.get(pk=edited.pk).embedded
    # The edited passage was embedded again after the switch: twice by the new encoder.
    assert sum(t.endswith(edited.text) for t in adapted.texts) == 2


def _all_held_out(monkeypatch: Any) -> None:
    """Every labelled past question counts as held out (one per intent holds none out)."""
    monkeypatch.setattr("apps.support.adaptation._held_out", lambda: past_labelled(None))


class _Validated(Exception):
    """Raised by the stand-in fit with the rows intent training validates on."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__("validated")
        self.texts = texts


def test_a_support_base_is_judged_on_the_intent_classifiers_held_out_questions_only(
    kb: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    for i in range(7):
        for question, intent in (
            (f"When will my new card arrive, order {i}?", "card_arrival"),
            (f"My PIN is blocked after wrong tries, attempt {i}", "pin_blocked"),
        ):
            PastConversation.objects.create(
                kb=kb, question=question, best_reply=f"Answer to: {question}", intent=intent
            )
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    def fit(*_args: Any, val_texts: list[str], **_kwargs: Any) -> Any:
        raise _Validated(val_texts)

    monkeypatch.setattr("mlcore.classifier.fit", fit)
    with pytest.raises(_Validated) as validated:
        intent_train(ctx)
    judged = judged_texts()
    encoder = HashingEmbedder()
    monkeypatch.setattr("mlcore.embedder.Embedder", lambda *_args, **_kwargs: encoder)
    article_hit(None, ctx)

    # One question of each intent is held out; retrieval asks those two and no other. Their
    # replies, which would give the answers away, are kept out of the corpus with them.
    held = validated.value.texts
    assert len(held) == 2
    assert sorted(judged) == sorted([*held, *(f"Answer to: {q}" for q in held)])
    asked = [text for text in encoder.calls if not text.startswith(("Card delivery", "Changing"))]
    assert sorted(asked) == sorted(held)


@pytest.mark.slow
def test_retrieval_judges_a_base_by_article_hit_at_3_on_held_out_past_questions(
    kb: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    for question, intent in (
        ("When will my new card arrive in the post?", "card_arrival"),
        ("My PIN is blocked after three wrong tries", "pin_blocked"),
        ("Can I open a savings account?", "open_savings"),  # no article carries this intent
    ):
        PastConversation.objects.create(kb=kb, question=question, best_reply="-", intent=intent)
    _all_held_out(monkeypatch)
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    # The real MiniLM finds the two answered questions' articles; the third cannot hit.
    assert article_hit(None, ctx) == pytest.approx(2 / 3)
    Article.objects.update(intents=[])
    assert article_hit(None, ctx) is None  # nothing to judge retrieval on


def test_article_hit_embeds_only_the_passages_of_the_knowledge_bases_it_judges(
    kb: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    other = support_services.knowledge_base_ensure(name="Branch help")
    support_services.article_upsert(kb_id=other.pk, title="Opening hours", body="Open at nine.")
    PastConversation.objects.create(
        kb=kb, question="When will my card arrive?", best_reply="-", intent="card_arrival"
    )
    PastConversation.objects.create(
        kb=other, question="When do you open?", best_reply="-", intent="opening_hours"
    )
    _all_held_out(monkeypatch)
    encoder = HashingEmbedder()
    monkeypatch.setattr("mlcore.embedder.Embedder", lambda *_args, **_kwargs: encoder)
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    assert article_hit(None, ctx) == 1.0

    # The other KB's articles carry no intents: neither its passages nor its questions count.
    assert any(text.startswith("Card delivery. ") for text in encoder.calls)
    assert not any("Opening hours" in text for text in encoder.calls)
    assert "When do you open?" not in encoder.calls


@pytest.mark.slow
def test_model_adapt_judges_a_support_base_on_intents_and_article_hits(kb: Any) -> None:
    for i in range(15):
        for question, intent in (
            (f"When will my new card arrive, order {i}?", "card_arrival"),
            (f"My PIN is blocked after wrong tries, attempt {i}", "pin_blocked"),
        ):
            PastConversation.objects.create(kb=kb, question=question, best_reply="-", intent=intent)
    out = StringIO()

    call_command(
        "model_adapt", "--app", "support", "--method", "tapt", "--max-steps", "2",
        "--eval-max-steps", "2", stdout=out,
    )  # fmt: skip

    metrics = ModelVersion.objects.get(name="support-base").metrics
    assert set(metrics["gains"]) == {"macro_f1", "article_hit@3"}
    assert 0.5 <= metrics["reference_article_hit@3"] <= 1.0  # MiniLM finds these articles
    assert metrics["gains"]["article_hit@3"] == pytest.approx(
        metrics["article_hit@3"] - metrics["reference_article_hit@3"], abs=1e-3
    )
    # Two of each intent's 15 are held out: both jobs are judged on those 4, and task-adaptive
    # pretraining read the other 26.
    log = out.getvalue()
    assert "article hit@3 of dense retrieval on 4 past questions" in log
    assert "4 texts holding what the app's evaluation judges on are left out of the corpus" in log


def test_the_sync_moves_only_minilm_knowledge_bases_behind_production(
    kb: Any, monkeypatch: Any, promote: Callable[..., ModelVersion]
) -> None:
    monkeypatch.setattr("apps.mlops.vectors.folder_texts_embed", _AdaptedStandIn())
    multilingual = KnowledgeBase.objects.create(name="Mixed", embedding_model="multilingual")
    assert support_services.knowledge_bases_adapted_base_sync() == 0  # no base in production
    version = promote(with_task=False)

    # The promotion's task was lost: the periodic sync catches up, then has nothing to do.
    assert support_services.knowledge_bases_adapted_base_sync() == 1
    assert support_services.knowledge_bases_adapted_base_sync() == 0
    kb.refresh_from_db()
    multilingual.refresh_from_db()
    assert kb.adapted_base == version.version and multilingual.adapted_base is None
    entry = beat_schedule()["support-adapted-base-sync"]
    assert entry["task"] == knowledge_bases_adapted_base_task.name
