"""Where each app's adapted bases are (apps/mlops/adapted_bases.py): one kind per base model,
each with a production version of its own, and only a base of that model served from it."""

from __future__ import annotations

import importlib
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.mlops import services
from apps.mlops.adaptation import AdaptedBase, adapted_base_gate, adapted_base_kinds
from apps.mlops.adapted_bases import adapted_base_name
from apps.mlops.kinds import kind_get
from apps.mlops.models import ModelVersion, RetrainSchedule
from apps.mlops.runtime import adapted_base_path
from mlcore.base_models import base_model_path
from tests.adapted_base import sentiment_base_promoted

pytestmark = pytest.mark.django_db


def test_each_models_adapted_base_has_a_production_version_of_its_own(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    multilingual = sentiment_base_promoted(capture, tmp_path / "m", "multilingual")

    # English text picks MiniLM: the multilingual base in production is not its adapted form.
    assert adapted_base_path("sentiment", "minilm") is None
    teacher = sentiment_base_promoted(capture, tmp_path / "t", "mpnet")
    minilm = sentiment_base_promoted(capture, tmp_path / "s", "minilm")

    # Promoting one displaced neither of the others.
    for model, version in (("multilingual", multilingual), ("mpnet", teacher), ("minilm", minilm)):
        name = adapted_base_name("sentiment", model)
        assert name == ("sentiment-base" if model == "minilm" else f"sentiment-base-{model}")
        folder = services.registry().artifact_path(name, version.version)
        assert adapted_base_path("sentiment", model) == folder


def test_a_base_of_another_model_in_minilms_kind_is_neither_served_norsentiment_base_promoted(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # Before each model had a kind, sentiment-base held multilingual bases too.
    sentiment_base_promoted(
        django_capture_on_commit_callbacks, tmp_path, "multilingual", "sentiment-base"
    )

    assert adapted_base_path("sentiment", "minilm") is None
    assert adapted_base_path("sentiment", "multilingual") is None
    refusal = adapted_base_gate(
        {"gain": 0.02, "app_metric": "macro_f1", "base_model": "multilingual"}, app="sentiment"
    )
    assert refusal == (
        "adapted from multilingual, but sentiment-base holds the bases adapted from minilm: "
        "adapt again as sentiment-base-multilingual"
    )
    # A MiniLM base measured against the general MiniLM takes the old version's place.
    minilm_run = {"gain": 0.02, "app_metric": "macro_f1", "base_model": "minilm"}
    assert adapted_base_gate({**minilm_run, "reference_version": None}, app="sentiment") is None


def test_each_kinds_gate_takes_only_bases_of_its_own_model() -> None:
    mpnet_run = {"gain": 0.02, "app_metric": "macro_f1", "base_model": "mpnet"}
    metrics = {**mpnet_run, "reference_version": None}

    assert kind_get("sentiment-base-mpnet").gate(metrics) is None
    for other in ("sentiment-base", "sentiment-base-multilingual"):
        assert "adapt again as sentiment-base-mpnet" in str(kind_get(other).gate(metrics))


def test_only_minilms_kind_calls_the_apps_production_hook() -> None:
    def hook(_version: int) -> None:
        return None

    spec = AdaptedBase(
        app="shop",
        title="Shop",
        texts=list,
        task_texts=list,
        score=lambda _base, _ctx, _steps: {"macro_f1": 0.5},
        on_production=hook,
        base_models=("minilm", "mpnet"),
    )

    kinds = [(kind.name, kind.on_production) for kind in adapted_base_kinds(spec)]

    # Support's hook re-embeds its knowledge bases: an mpnet base serves none of them.
    assert kinds == [("shop-base", hook), ("shop-base-mpnet", None)]


def test_model_adapt_names_the_models_an_app_adapts() -> None:
    with pytest.raises(CommandError, match="the support app adapts minilm, not mpnet"):
        call_command("model_adapt", "--app", "support", "--base-model", "mpnet", stdout=StringIO())
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_model_adapt_registers_an_mpnet_base_in_the_teachers_kind(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # MiniLM stands in for the 400 MB mpnet packages, which CI does not install.
    monkeypatch.setattr("apps.mlops.adaptation.base_model_resolve", lambda _n: base_model_path())
    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(f"Company {i} said output rose {i} percent." for i in range(40)))
    out = StringIO()

    call_command(
        "model_adapt", "--app", "sentiment", "--base-model", "mpnet", "--corpus", str(corpus),
        "--max-steps", "1", "--eval-max-steps", "1", stdout=out,
    )  # fmt: skip

    version = ModelVersion.objects.get()
    assert version.name == "sentiment-base-mpnet" and not version.is_production
    assert version.metrics["base_model"] == "mpnet"
    assert version.metrics["reference"] == "general mpnet"
    assert f"registered sentiment-base-mpnet v{version.version} (mlm-keep" in out.getvalue()
    # Judged as the teacher it would become: with the teacher's recipe.
    assert "judged with the distillation teacher's recipe" in out.getvalue()


def test_the_teachers_base_has_its_own_models_page_whose_run_form_adapts_mpnet(
    admin_client: Any,
) -> None:
    listing = admin_client.get("/mlops/").content.decode()
    page = admin_client.get("/mlops/models/sentiment-base-mpnet/").content.decode()

    assert "Financial sentiment: adapted base (mpnet)" in listing
    assert "Financial sentiment: adapted base (multilingual)" in listing
    # Its run form offers the one model the kind holds, and names the kinds of the others.
    assert 'value="mpnet"' in page and 'value="multilingual"' not in page
    assert "sentiment-base, sentiment-base-multilingual hold the others" in page


def test_a_schedule_kept_on_minilms_kind_for_another_model_moves_to_that_models_kind() -> None:
    migration = importlib.import_module("apps.mlops.migrations.0006_adapted_base_kind_per_model")
    due = timezone.now()

    def schedule(name: str, **params: Any) -> RetrainSchedule:
        return RetrainSchedule.objects.create(name=name, params=params, next_run_at=due)

    multilingual = schedule("sentiment-base", base_model="multilingual", method="tapt")
    minilm = schedule("support-base", base_model="minilm")
    taken = schedule("recommender-base", base_model="mpnet")
    schedule("recommender-base-mpnet", method="lora")

    migration.schedules_move(django_apps, None)

    for row in (multilingual, minilm, taken):
        row.refresh_from_db()
    assert (multilingual.name, multilingual.enabled) == ("sentiment-base-multilingual", True)
    assert multilingual.params == {"base_model": "multilingual", "method": "tapt"}
    assert (minilm.name, minilm.enabled) == ("support-base", True)
    # The new kind has a schedule of its own: the old one is kept, switched off.
    assert (taken.name, taken.enabled) == ("recommender-base", False)
