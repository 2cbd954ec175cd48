"""The recommender's adapted base: it reads the catalog's item texts and reviews, is judged by
text-only recommendation on held-out shoppers, and once promoted embeds the catalog."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.mlops import services as mlops
from apps.mlops.adaptation_corpus import adaptation_corpus
from apps.mlops.kinds import TrainingContext, kind_get
from apps.mlops.models import ModelVersion
from apps.mlops.runtime import named_index
from apps.recommender import services
from apps.recommender.adaptation import ADAPTED_BASE, base_score, judged_texts, recommender_texts
from apps.recommender.models import Event, Item
from tests.adapted_base import adapted_base_promoted
from tests.recommender.factories import EventFactory

pytestmark = pytest.mark.django_db

# Each shopper touches two items of a kind, then a third of the same kind (held out).
JOURNEYS = [
    ("TENT-1", "BAG-1", "PAD-1"),
    ("KNIFE-1", "BOARD-1", "PAN-1"),
    ("KETTLE-1", "PAN-1", "GRIND-1"),
    ("TENT-2", "PAD-1", "BAG-1"),
    ("BOOK-1", "KETTLE-1", "BOOK-2"),
    ("BAG-1", "LAMP-1", "TENT-1"),
]


def _journeys(catalog: dict[str, Item], journeys: list[tuple[str, ...]] = JOURNEYS) -> None:
    start = timezone.now() - timedelta(hours=1)
    for n, skus in enumerate(journeys):
        for step, sku in enumerate(skus):
            created = start + timedelta(minutes=step)
            EventFactory(item=catalog[sku], visitor_id=f"shopper-{n}", created=created)


def _ctx(tmp_path: Path) -> TrainingContext:
    return TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)


def test_the_recommender_base_reads_item_texts_and_reviews(catalog: dict[str, Item]) -> None:
    EventFactory(
        item=catalog["TENT-1"], kind=Event.Kind.RATING, rating=5, text="Kept us dry all week."
    )

    texts = recommender_texts()

    assert kind_get("recommender-base").gate is not None
    assert catalog["TENT-1"].text in texts and "Kept us dry all week." in texts


def test_reviews_of_held_out_items_are_judged_texts_the_corpus_leaves_out(
    catalog: dict[str, Item], tmp_path: Path
) -> None:
    assert judged_texts() == []  # too few shoppers to judge: nothing held out
    _journeys(catalog)
    now = timezone.now()
    for sku, text, created in (
        ("PAD-1", "Comfy pad, slept well.", now),  # shopper-0's held-out item, their last
        ("TENT-1", "Roomy tent.", now - timedelta(hours=2)),  # an earlier item of theirs
    ):
        EventFactory(
            item=catalog[sku], visitor_id="shopper-0", kind=Event.Kind.RATING, rating=5,
            text=text, created=created,
        )  # fmt: skip

    corpus, judged = adaptation_corpus(ADAPTED_BASE, {}, _ctx(tmp_path))

    assert judged == judged_texts() == ["Comfy pad, slept well."]
    assert "Comfy pad, slept well." not in corpus and "Roomy tent." in corpus
    assert catalog["PAD-1"].text in corpus  # the catalog the encoder serves stays


def test_judging_a_base_needs_held_out_shoppers(catalog: dict[str, Item], tmp_path: Path) -> None:
    _journeys(catalog, JOURNEYS[:2])

    with pytest.raises(ValueError, match="2 shoppers with 2\\+ items"):
        base_score(None, _ctx(tmp_path), None)


@pytest.mark.slow
def test_a_base_is_judged_by_text_only_ndcg_on_held_out_items(
    catalog: dict[str, Item], tmp_path: Path
) -> None:
    _journeys(catalog)

    ((metric, value),) = base_score(None, _ctx(tmp_path), None).items()

    # MiniLM puts the held-out item of the same kind near the top: better than the middle
    # of the ten unseen items, where an encoder blind to the text would put it on average.
    assert metric == "ndcg@10"
    assert 1 / np.log2(6) < value <= 1.0


def test_a_promoted_recommender_base_re_embeds_the_catalog_with_it(
    catalog: dict[str, Item],
    tmp_path: Path,
    monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    folders: list[Path] = []

    def adapted_embed(texts: list[str], folder: Path) -> np.ndarray:
        folders.append(folder)
        return np.full((len(texts), 384), 1 / np.sqrt(384), dtype=np.float32)

    monkeypatch.setattr("apps.mlops.vectors.folder_texts_embed", adapted_embed)

    version = adapted_base_promoted(
        "recommender-base",
        tmp_path,
        {"gain": 0.05, "ndcg@10": 0.6},
        django_capture_on_commit_callbacks,
    )
    index = named_index("recommender-items").current()
    tent = index.vector(catalog["TENT-1"].pk)
    expected = mlops.registry().artifact_path("recommender-base", version.version)

    assert folders and set(folders) == {expected}
    assert tent is not None and np.allclose(tent, 1 / np.sqrt(384))
    services.items_embed(item_ids=[catalog["PAN-1"].pk])
    assert len(folders) == 2  # later item changes are embedded with it too


@pytest.mark.slow
def test_model_adapt_adapts_the_item_text_encoder_and_gates_it_on_ndcg(
    catalog: dict[str, Item], django_capture_on_commit_callbacks: Any
) -> None:
    _journeys(catalog)
    for n, item in enumerate(catalog.values()):
        EventFactory(
            item=item, kind=Event.Kind.RATING, rating=4, text=f"Review {n} of {item}.",
            visitor_id=f"reviewer-{n}",
        )  # fmt: skip
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "model_adapt", "--app", "recommender", "--method", "mlm-keep", "--max-steps", "2",
            "--promote", stdout=out,
        )  # fmt: skip

    version = ModelVersion.objects.get(name="recommender-base")
    metrics = version.metrics
    assert version.data_size == 24 and metrics["app_metric"] == "ndcg@10"
    assert metrics["gain"] == pytest.approx(
        metrics["ndcg@10"] - metrics["reference_ndcg@10"], abs=1e-3
    )
    assert version.is_production == (metrics["gain"] > 0)
    assert f"registered recommender-base v{version.version} (mlm-keep" in out.getvalue()
