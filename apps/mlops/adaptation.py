"""The "adapted base" model kind: an app's encoder adapted to the app's own unlabelled text
(mlcore.adapt), stored as registry versions with the corpus hash, the method and its metrics.

Each app registers one kind per base model it adapts (`adapted_base_kinds`): `<app>-base` for
MiniLM, `<app>-base-<model>` for another (sentiment's multilingual model and its mpnet
teacher), so each model's adapted base has a production version of its own and promoting one
never displaces another's. The app says where its texts are and how its evaluation scores a
base: the sentiment and support classifiers fine-tuned from it, the recommender's own
evaluation. A run scores both the new encoder and the base it would replace (production's
adapted base of the same model, else the general one) on the same data in the same run; the
gate promotes it only when the app's evaluation says it is better. The texts that evaluation
judges on never enter the corpus, whatever its source.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from mlcore.adapt import (
    DEFAULT_METHOD,
    METHODS,
    AdaptConfig,
    AdaptProgress,
    adapt,
    corpus_ready,
)
from mlcore.base_models import BASE_MODELS, BaseModelMissing, base_model_path, base_model_resolve

from .adaptation_corpus import adaptation_corpus, corpus_judged_check
from .adapted_bases import (
    DEFAULT_BASE_MODEL,
    adapted_base_name,
    adapted_base_version,
    adapted_base_version_path,
    adapted_from,
)
from .corpora import corpus_choices
from .kinds import MAX_STEPS_SPEC, ModelKind, ParamSpec, TrainingContext, TrainOutcome

# The app's evaluation of a base folder (None: the general MiniLM; a run passes the folder it
# judges): {metric name: value}, higher is better, the main metric first. It gets the run's
# context (progress, stop, log; its params name the `base_model` adapted) and the
# evaluation's step cap.
BaseScore = Callable[[Path | None, TrainingContext, int | None], dict[str, float]]
# An app's fine-tune from a base folder: the run context (its params and workdir) and the base.
FineTune = Callable[[TrainingContext, Path], TrainOutcome]


def fine_tune_score(
    train: FineTune,
    params: dict[str, Any] | Callable[[TrainingContext], dict[str, Any]],
    *,
    metrics: tuple[str, ...] = ("macro_f1",),
) -> BaseScore:
    """The BaseScore of an app whose evaluation is its classifier fine-tuned from the base with
    `params` (a dict, or a function of the run's context read at each evaluation; plus the
    evaluation's step cap):
    `metrics` of that fine-tune's held-out rows, the first the main one."""

    def score(base: Path | None, ctx: TrainingContext, max_steps: int | None) -> dict[str, float]:
        fixed = params(ctx) if callable(params) else params
        run_params = {**fixed, **({"max_steps": max_steps} if max_steps else {})}
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="evaluate-", dir=ctx.workdir))
        context = TrainingContext(
            run_id=ctx.run_id,
            params=run_params,
            workdir=workdir,
            should_stop=ctx.should_stop,
            log=ctx.log,
        )
        outcome = train(context, base or base_model_path())
        return {metric: float(outcome.metrics[metric]) for metric in metrics}

    return score


@dataclass(frozen=True)
class AdaptedBase:
    """What an app tells mlops about its adapted base."""

    app: str
    title: str
    texts: Callable[[], list[str]]  # the app's own unlabelled texts
    task_texts: Callable[[], list[str]]  # the task's texts, for task-adaptive pretraining
    score: BaseScore
    # The texts of the rows `score` holds out (what it judges on, and what would give its
    # answers away): kept out of every corpus, as pretraining on them would flatter the
    # adapted base at the gate.
    judged_texts: Callable[[], list[str]] = list
    # Called with the version once a MiniLM base (`<app>-base`) is put in production (e.g.
    # re-embed what it serves); the other models' kinds have no such hook.
    on_production: Callable[[int], None] | None = None
    # The base models (mlcore.base_models.BASE_MODELS) whose adapted form the app uses (its
    # training's "auto" choice, its distillation teacher, its retrieval or catalog vectors),
    # each a kind of its own: an adapted base of another model would never serve.
    base_models: tuple[str, ...] = ("minilm",)


def _base_folder(path: Path) -> Path:
    return path


def _corpora_spec(app: str) -> ParamSpec:
    return ParamSpec(
        "corpora",
        "ids",
        None,
        "Corpora uploaded for this app (Models → Corpora); with corpus files, all are read "
        "(none: the app's own texts; tapt: the task's texts).",
        label="Uploaded corpora",
        choices=partial(corpus_choices, app),
    )


PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "method",
        "choice",
        DEFAULT_METHOD,
        "How the encoder learns the text: "
        + "; ".join(f"{m.name}: {m.title}" for m in METHODS.values()),
        choices=lambda: [(m.name, m.title) for m in METHODS.values()],
    ),
    ParamSpec(
        "corpus",
        "str",
        None,
        "Plain-text files in the training files folder, one text a line, separated by commas "
        "(empty: the app's own texts; tapt: the task's texts).",
        label="Corpus files",
        advanced=True,
        server_files=True,
    ),
    ParamSpec("epochs", "int", 1, "Passes over the corpus.", minimum=1, maximum=20),
    ParamSpec("batch_size", "int", 16, "Texts per step.", minimum=1, maximum=512, advanced=True),
    ParamSpec(
        "max_length", "int", 64, "Tokens kept per text.", minimum=8, maximum=512, advanced=True
    ),
    MAX_STEPS_SPEC,
    ParamSpec(
        "eval_max_steps",
        "int",
        None,
        "Stop each evaluation fine-tune after this many steps (empty: the app's full recipe).",
        minimum=1,
        advanced=True,
    ),
    ParamSpec(
        "base_model",
        "choice",
        "minilm",
        "The encoder adapted.",
        choices=lambda: list(BASE_MODELS.items()),
        advanced=True,
    ),
)


def _base_model_spec(spec: AdaptedBase, model: str) -> ParamSpec:
    others = [adapted_base_name(spec.app, other) for other in spec.base_models if other != model]
    return replace(
        PARAM_SPECS[-1],
        default=model,
        help=f"The encoder adapted: this kind holds the bases adapted from {model}"
        + (f" ({', '.join(others)} hold the others)" if others else "")
        + ", judged against its general form or production's adapted base of it.",
        choices=lambda: [(model, BASE_MODELS[model])],
    )


def _param_specs(spec: AdaptedBase, model: str) -> tuple[ParamSpec, ...]:
    return (
        PARAM_SPECS[0],
        _corpora_spec(spec.app),
        *PARAM_SPECS[1:-1],
        _base_model_spec(spec, model),
    )


def _model_check(spec: AdaptedBase, model: str, requested: str) -> None:
    """ValueError unless `requested` is the model of the kind run (`model`)."""
    if requested == model:
        return
    if requested in spec.base_models:
        raise ValueError(
            f"bases adapted from {requested} are the kind "
            f"{adapted_base_name(spec.app, requested)}: start the run there"
        )
    raise ValueError(
        f"the {spec.app} app serves from {', '.join(spec.base_models)}, not {requested}: "
        "an adapted base of another model would never be used"
    )


def adapted_base_train(spec: AdaptedBase, model: str, ctx: TrainingContext) -> TrainOutcome:
    """Adapt the base model `model` to the corpus, then score the adapted base and the base it
    would replace (the general model, or production's adapted base of the same model) with
    the app's evaluation, back to back (metric `gain`: the difference, which the gate needs
    above zero). What can be refused is refused before the adaptation's hours: the model, the
    corpus, and one step of the app's evaluation."""
    params = {spec_.name: spec_.default for spec_ in _param_specs(spec, model)} | ctx.params
    _model_check(spec, model, str(params.get("base_model") or model))
    params["base_model"] = model
    # The evaluation reads the model from the run's params (sentiment judges an mpnet base
    # with the teacher's recipe).
    ctx = replace(ctx, params=params)
    try:
        base = base_model_resolve(model)
    except BaseModelMissing as exc:
        raise ValueError(str(exc)) from None
    corpus, judged = adaptation_corpus(spec, params, ctx)
    texts = corpus_ready(corpus)
    # Like against like: production's adapted base only when it was adapted from this model.
    reference_version = adapted_base_version(spec.app, model)
    general = reference_version is None
    reference = base
    if reference_version is not None:
        reference = adapted_base_version_path(spec.app, reference_version, model)
    described = f"the general {model}" if general else str(reference)
    eval_steps = int(params["eval_max_steps"]) if params.get("eval_max_steps") else None
    # One step of the app's evaluation first: what it refuses (too few shoppers, too few
    # labelled rows) is refused before the adaptation's hours, not after.
    ctx.log("trying the app's evaluation (one step) before adapting")
    spec.score(reference, ctx, 1)
    config = AdaptConfig(
        method=str(params["method"]),
        epochs=int(params["epochs"]),
        batch_size=int(params["batch_size"]),
        max_length=int(params["max_length"]),
        max_steps=int(params["max_steps"]) if params.get("max_steps") else None,
    )

    def on_progress(event: AdaptProgress) -> None:
        ctx.progress(
            {
                "phase": "step",
                "epoch": 1,
                "epochs": config.epochs,
                "step": event.step,
                "total_steps": event.total_steps,
                "loss": round(event.loss, 4),
                "eta_s": round(event.eta_s),
            }
        )

    ctx.log(f"adapting {base} with {config.method} on {len(texts)} texts")
    result = adapt(
        texts,
        out_dir=ctx.workdir / "artifact",
        base_model=base,
        config=config,
        progress=on_progress,
        should_stop=ctx.should_stop,
    )
    ctx.log(f"adapted: {result.metrics}")
    # Both bases judged back to back, on the app's data as it is now.
    ctx.log(f"evaluating the base it would replace ({described})")
    before = spec.score(reference, ctx, eval_steps)
    ctx.log("evaluating the adapted base")
    after = spec.score(result.path, ctx, eval_steps)
    if set(after) != set(before):
        raise ValueError(
            f"the app's evaluation measured {sorted(before)} for the base it would replace and "
            f"{sorted(after)} for the adapted one: its data changed meanwhile; run it again"
        )
    corpus_judged_check(spec, texts, judged)
    gains = {name: round(after[name] - before[name], 4) for name in after}
    for name in after:
        ctx.log(f"{name}: {after[name]:.4f} adapted vs {before[name]:.4f} reference")
    metric = next(iter(after))
    metrics = {
        "gain": gains[metric],
        "gains": gains,
        "app_metric": metric,
        **{name: round(value, 4) for name, value in after.items()},
        **{f"reference_{name}": round(value, 4) for name, value in before.items()},
        "reference": f"general {model}" if general else str(reference),
        # The production version it was measured against (None: none of this model): the gate
        # refuses it once production holds another.
        "reference_version": reference_version,
        "base_model": model,
        "method": config.method,
        **result.metrics,
    }
    return TrainOutcome(
        artifact_dir=result.path,
        metrics=metrics,
        data_hash=result.corpus_hash,
        data_size=len(texts),
        base_model=str(base),
        params={**params, "method": config.method, "corpus_hash": result.corpus_hash},
        history=result.history,
    )


def _versus(metrics: dict[str, Any], metric: str) -> str:
    return (
        f"{metric} {metrics.get(metric)} with the adapted base vs "
        f"{metrics.get(f'reference_{metric}')} with the base it would replace"
    )


def adapted_base_gate(
    metrics: dict[str, Any], app: str | None = None, model: str = DEFAULT_BASE_MODEL
) -> str | None:
    """Refuse an adapted base unless its app's evaluation beat the base it would replace: no
    metric of the evaluation worse, and one better (an app judged on one metric: that one);
    and, for the kind of the `app`'s bases adapted from `model`, unless it was adapted from
    that model and the base it was measured against is still production's."""
    gain = metrics.get("gain")
    if not isinstance(gain, (int, float)):
        return "the adapted base has no evaluation by its app (no gain measured)"
    if app is not None and "base_model" in metrics and adapted_from(metrics) != model:
        return (
            f"adapted from {adapted_from(metrics)}, but {adapted_base_name(app, model)} holds "
            f"the bases adapted from {model}: adapt again as "
            f"{adapted_base_name(app, adapted_from(metrics))}"
        )
    if app is not None and "reference_version" in metrics:
        current = adapted_base_version(app, model)
        if current != metrics["reference_version"]:
            measured = metrics["reference_version"]
            against = f"v{measured}" if measured is not None else "the general base"
            now = f"v{current}" if current is not None else "none"
            return (
                f"production's {adapted_base_name(app, model)} is {now} now, but this version "
                f"was measured against {against} (of {model}): adapt again to compare with it"
            )
    gains = metrics.get("gains") or {metrics.get("app_metric", "the app's metric"): gain}
    worse = [name for name, change in gains.items() if change < 0]
    if worse:
        return "not better: " + "; ".join(_versus(metrics, name) for name in worse)
    if not any(change > 0 for change in gains.values()):
        return "not better: " + "; ".join(_versus(metrics, name) for name in gains)
    return None


def adapted_base_kinds(spec: AdaptedBase) -> list[ModelKind]:
    """The kinds of `spec`, one per base model it adapts (register them in the app's ready())."""
    return [
        ModelKind(
            name=adapted_base_name(spec.app, model),
            title=f"{spec.title}: adapted base"
            + ("" if model == DEFAULT_BASE_MODEL else f" ({model})"),
            loader=_base_folder,
            main_metric="gain",
            tolerance=0.0,
            train=partial(adapted_base_train, spec, model),
            warm=False,
            params=_param_specs(spec, model),
            gate=partial(adapted_base_gate, app=spec.app, model=model),
            on_production=spec.on_production if model == DEFAULT_BASE_MODEL else None,
        )
        for model in spec.base_models
    ]
