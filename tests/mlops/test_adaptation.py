"""The adapted-base kind: the gate promotes an adapted base only when its app's evaluation says
it beats the base it would replace; `model_adapt` adapts, measures, registers and gates."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.mlops import services
from apps.mlops.adaptation import AdaptedBase, adapted_base_gate, adapted_base_train
from apps.mlops.kinds import TrainingContext, TrainOutcome
from apps.mlops.models import ModelVersion, PromotionEvent
from apps.mlops.runtime import adapted_base_path
from mlcore.adapt import AdaptResult, corpus_hash, corpus_read
from mlcore.base_models import base_model_path
from tests.adapted_base import sentiment_base_promoted

pytestmark = pytest.mark.django_db


def _register(tmp_path: Path, gain: float, tag: str) -> ModelVersion:
    artifact = tmp_path / f"encoder-{tag}"
    shutil.copytree(base_model_path(), artifact)
    return services.model_version_register(
        name="sentiment-base",
        outcome=TrainOutcome(
            artifact_dir=artifact,
            metrics={
                "gain": gain,
                "app_metric": "macro_f1",
                "macro_f1": 0.70 + gain,
                "reference_macro_f1": 0.70,
                "method": "tsdae",
            },
            data_hash=tag,
        ),
    )


def _promote(version: ModelVersion, on_commit: Any, **kwargs: Any) -> Any:
    with on_commit(execute=True):
        return services.model_version_promote(
            name="sentiment-base", version=version.version, **kwargs
        )


def test_an_adapted_base_that_is_not_better_is_refused_even_with_nothing_in_production(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    worse = _register(tmp_path, -0.01, "worse")
    same = _register(tmp_path, 0.0, "same")

    refused = [_promote(v, django_capture_on_commit_callbacks) for v in (worse, same)]

    assert [r.promoted for r in refused] == [False, False]
    assert "not better: macro_f1 0.69 with the adapted base vs 0.7" in refused[0].message
    assert PromotionEvent.objects.filter(kind=PromotionEvent.Kind.REFUSED).count() == 2
    assert not ModelVersion.objects.filter(name="sentiment-base", is_production=True).exists()
    assert adapted_base_path("sentiment", "minilm") is None


def test_a_better_adapted_base_is_promoted_and_becomes_the_apps_base(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    better = _register(tmp_path, 0.02, "better")

    result = _promote(better, django_capture_on_commit_callbacks)

    assert result.promoted and result.kind == PromotionEvent.Kind.PROMOTE
    path = adapted_base_path("sentiment", "minilm")
    assert path is not None and (path / "model.safetensors").is_file()
    assert path == services.registry().artifact_path("sentiment-base", better.version)


def test_a_refused_adapted_base_can_still_be_forced_with_a_reason(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    worse = _register(tmp_path, -0.01, "worse")

    result = _promote(worse, django_capture_on_commit_callbacks, override=True, reason="trial")

    assert result.promoted and result.kind == PromotionEvent.Kind.OVERRIDE


def test_an_app_judged_on_two_metrics_gets_a_base_only_when_neither_drops_and_one_rises():
    def judged(macro_f1: float, hit3: float) -> dict[str, Any]:
        gains = {"macro_f1": round(macro_f1 - 0.80, 4), "article_hit@3": round(hit3 - 0.60, 4)}
        return {
            "gain": gains["macro_f1"],
            "gains": gains,
            "app_metric": "macro_f1",
            "macro_f1": macro_f1,
            "reference_macro_f1": 0.80,
            "article_hit@3": hit3,
            "reference_article_hit@3": 0.60,
        }

    # Intent up, retrieval down: refused, naming the metric that dropped.
    refused = adapted_base_gate(judged(0.82, 0.58))
    assert refused == (
        "not better: article_hit@3 0.58 with the adapted base vs 0.6 with the base it would replace"
    )
    assert adapted_base_gate(judged(0.80, 0.60)) is not None  # nothing rose
    assert adapted_base_gate(judged(0.80, 0.62)) is None  # retrieval up, intent kept
    assert adapted_base_gate(judged(0.81, 0.61)) is None


def test_model_adapt_refuses_an_unreadable_corpus_and_registers_nothing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read the corpus"):
        call_command(
            "model_adapt", "--app", "sentiment", "--corpus", str(tmp_path / "none.txt"),
            stdout=StringIO(),
        )  # fmt: skip
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_model_adapt_adapts_measures_registers_and_gates_on_the_apps_evaluation(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    corpus = tmp_path / "news.txt"
    corpus.write_text(
        "\n".join(
            f"Company {i} said quarterly profit {'rose' if i % 2 else 'fell'} {i} percent."
            for i in range(60)
        )
    )
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "model_adapt", "--app", "sentiment", "--corpus", str(corpus), "--method", "mlm-keep",
            "--max-steps", "2", "--eval-max-steps", "2", "--promote", stdout=out,
        )  # fmt: skip

    version = ModelVersion.objects.get(name="sentiment-base")
    metrics = version.metrics
    assert version.data_hash == corpus_hash(corpus_read([corpus]))
    assert version.data_size == 60
    assert metrics["method"] == "mlm-keep" and metrics["app_metric"] == "macro_f1"
    assert metrics["gain"] == pytest.approx(
        metrics["macro_f1"] - metrics["reference_macro_f1"], abs=1e-3
    )
    assert 0.9 < metrics["cosine_to_base"] <= 1.0
    assert metrics["reference"] == "general minilm"
    assert set(metrics["gains"]) == {"macro_f1", "accuracy"}
    passed = adapted_base_gate(metrics) is None  # every metric kept, one risen
    assert version.is_production == passed
    event = PromotionEvent.objects.get(name="sentiment-base")
    assert event.kind == ("promote" if passed else "refused")
    assert f"registered sentiment-base v{version.version} (mlm-keep" in out.getvalue()


def test_an_adaptation_run_with_an_unknown_method_is_a_400(api: Any) -> None:
    response = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment-base", "params": {"method": "simcse"}},
        format="json",
    )

    assert response.status_code == 400 and "simcse" in str(response.data)
    assert not ModelVersion.objects.exists()


def test_an_adaptation_run_started_from_the_api_fails_clearly_without_texts(
    api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/api/mlops/runs/",
            {"model_name": "sentiment-base", "params": {"method": "tsdae"}},
            format="json",
        )

    detail = api.get(f"/api/mlops/runs/{created.data['id']}/")

    assert created.status_code == 201
    assert detail.data["status"] == "failed"
    assert "0 distinct texts are too few to adapt on" in str(detail.data)
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_task_adaptive_pretraining_without_a_corpus_reads_the_tasks_texts_and_shows_progress(
    tmp_path: Path,
) -> None:
    task = [f"Quarterly revenue of firm {i} rose {i} percent on strong demand." for i in range(40)]
    events: list[dict[str, Any]] = []
    spec = AdaptedBase(
        app="sentiment",
        title="Test",
        texts=lambda: pytest.fail("tapt read the app's unlabelled texts, not the task's"),
        task_texts=lambda: task,
        score=lambda base, _ctx, _steps: {"macro_f1": 0.5 if base == base_model_path() else 0.6},
    )
    ctx = TrainingContext(
        run_id=None,
        params={"method": "tapt", "max_steps": 2},
        workdir=tmp_path,
        progress=events.append,
        log=lambda _line: None,
    )

    outcome = adapted_base_train(spec, "minilm", ctx)

    assert outcome.data_size == 40 and outcome.data_hash == corpus_hash(task)
    assert outcome.metrics["method"] == "tapt" and outcome.metrics["gain"] == pytest.approx(0.1)
    steps = [e for e in events if e.get("phase") == "step"]
    assert [e["step"] for e in steps] == [1, 2] and {e["total_steps"] for e in steps} == {2}
    assert all(e["loss"] > 0 for e in steps)


def _spec(**kwargs: Any) -> AdaptedBase:
    return AdaptedBase(
        **{
            "app": "sentiment",
            "title": "Test",
            "texts": lambda: [f"Firm {i} said sales rose {i} percent." for i in range(30)],
            "task_texts": list,
            "score": lambda base, _ctx, _steps: {"macro_f1": 0.5},
            **kwargs,
        }
    )


def test_a_base_model_the_app_does_not_serve_from_is_refused_before_any_work(
    tmp_path: Path, api: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("apps.mlops.adaptation.adapt", lambda *a, **k: pytest.fail("adapted"))
    spec = _spec(texts=lambda: pytest.fail("read the corpus"))
    ctx = TrainingContext(
        run_id=None, params={"base_model": "mpnet"}, workdir=tmp_path, log=lambda _line: None
    )

    with pytest.raises(ValueError, match="serves from minilm, not mpnet"):
        adapted_base_train(spec, "minilm", ctx)
    # From the API: a support base of mpnet would never serve retrieval (384-wide indices).
    response = api.post(
        "/api/mlops/runs/",
        {"model_name": "support-base", "params": {"base_model": "mpnet"}},
        format="json",
    )
    assert response.status_code == 400 and "mpnet" in str(response.data)


def test_the_base_it_would_replace_is_judged_before_the_adaptation_runs(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("apps.mlops.adaptation.adapt", lambda *a, **k: pytest.fail("adapted"))

    def score(_base: Path | None, _ctx: Any, _steps: int | None) -> dict[str, float]:
        raise ValueError("not enough behaviour to judge an item-text encoder")

    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    # The app's evaluation refuses at once, not after hours of adaptation.
    with pytest.raises(ValueError, match="not enough behaviour"):
        adapted_base_train(_spec(score=score), "minilm", ctx)


@pytest.fixture
def adapt_instantly(monkeypatch: Any) -> None:
    """Adaptation stands in: the encoder "saved" where the run asked, with nothing trained."""
    monkeypatch.setattr(
        "apps.mlops.adaptation.adapt",
        lambda texts, *, out_dir, config, **_kwargs: AdaptResult(
            path=Path(out_dir),
            method=config.method,
            metrics={},
            corpus_hash=corpus_hash(texts),
            train_size=len(texts),
        ),
    )


@pytest.mark.usefixtures("adapt_instantly")
def test_the_texts_the_evaluation_judges_on_never_enter_the_corpus(tmp_path: Path) -> None:
    texts = [f"Firm {i} said sales rose {i} percent." for i in range(30)]
    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(texts) + "\n")
    # Two of the evaluation's held-out texts are in the corpus, one with another case and
    # spacing; pretraining on them would flatter the adapted base at the gate.
    judged = ["FIRM 3 said  sales rose 3 percent.", texts[7], "A text the corpus lacks."]
    lines: list[str] = []
    ctx = TrainingContext(
        run_id=None, params={"corpus": str(corpus)}, workdir=tmp_path, log=lines.append
    )

    outcome = adapted_base_train(_spec(judged_texts=lambda: judged), "minilm", ctx)

    kept = [text for i, text in enumerate(texts) if i not in (3, 7)]
    assert outcome.data_size == 28 and outcome.data_hash == corpus_hash(kept)
    assert "2 texts holding what the app's evaluation judges on are left out of the corpus" in lines


@pytest.mark.usefixtures("adapt_instantly")
def test_a_run_whose_judged_texts_moved_into_its_corpus_meanwhile_is_refused(
    tmp_path: Path,
) -> None:
    texts = [f"Firm {i} said sales rose {i} percent." for i in range(30)]
    judged: list[str] = []

    def score(_base: Path | None, _ctx: Any, steps: int | None) -> dict[str, float]:
        if steps is None:  # after the adaptation: a new labelled row reshuffled the split
            judged.append(texts[4])
        return {"macro_f1": 0.5}

    spec = _spec(texts=lambda: texts, judged_texts=lambda: list(judged), score=score)
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    with pytest.raises(ValueError, match="1 texts of the corpus adapted to hold what the app's"):
        adapted_base_train(spec, "minilm", ctx)
    # Judged texts that stayed what they were (and out of the corpus) refuse nothing.
    spec = _spec(texts=lambda: texts, judged_texts=lambda: [texts[4]])
    assert adapted_base_train(spec, "minilm", ctx).data_size == 29


@pytest.mark.usefixtures("adapt_instantly")
def test_a_new_base_is_judged_against_the_general_form_of_its_own_model(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    sentiment_base_promoted(django_capture_on_commit_callbacks, tmp_path, "multilingual")
    judged: list[Path | None] = []

    def score(base: Path | None, _ctx: Any, _steps: int | None) -> dict[str, float]:
        judged.append(base)
        return {"macro_f1": 0.5 + 0.1 * (len(judged) - 1)}

    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    outcome = adapted_base_train(_spec(score=score), "minilm", ctx)

    # Production holds a multilingual base: a MiniLM one is measured against MiniLM itself
    # (a one-step trial before adapting, then both back to back).
    assert judged == [base_model_path(), base_model_path(), tmp_path / "artifact"]
    assert outcome.metrics["reference"] == "general minilm"
    assert outcome.metrics["gain"] == pytest.approx(0.1)
    # Promoted, it takes MiniLM's place and leaves the multilingual base where it is.
    assert adapted_base_gate(outcome.metrics, app="sentiment") is None


@pytest.mark.usefixtures("adapt_instantly")
def test_a_new_base_is_judged_against_production_of_its_model_until_production_moves(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    production = sentiment_base_promoted(django_capture_on_commit_callbacks, tmp_path, "minilm")
    judged: list[Path | None] = []

    def score(base: Path | None, _ctx: Any, _steps: int | None) -> dict[str, float]:
        judged.append(base)
        return {"macro_f1": 0.5 if base != tmp_path / "run" / "artifact" else 0.6}

    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path / "run", log=lambda _line: None)

    outcome = adapted_base_train(_spec(score=score), "minilm", ctx)

    folder = services.registry().artifact_path("sentiment-base", production.version)
    assert judged[:2] == [folder, folder]
    assert outcome.metrics["reference_version"] == production.version
    assert adapted_base_gate(outcome.metrics, app="sentiment") is None
    # Another base promoted meanwhile: this one was never compared with it.
    newer = _register(tmp_path, 0.03, "newer")
    _promote(newer, django_capture_on_commit_callbacks)
    refusal = adapted_base_gate(outcome.metrics, app="sentiment")
    assert refusal == (
        f"production's sentiment-base is v{newer.version} now, but this version was measured "
        f"against v{production.version} (of minilm): adapt again to compare with it"
    )
