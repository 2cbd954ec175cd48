"""The "adapted base" model kind: an app's encoder adapted to the app's own unlabelled text
(mlcore.adapt), stored as registry versions with the corpus hash, the method and its metrics.

Each app registers one (`<app>-base`) with `adapted_base_kind`, saying where its texts are and
how its evaluation scores a base: the sentiment and support classifiers fine-tuned from it,
the recommender's own evaluation. A run scores both the new encoder and the base it would
replace (production's adapted base, else the general one) on the same data in the same run;
the gate promotes it only when the app's evaluation says it is better. The texts that
evaluation judges on never enter the corpus, whatever its source.
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
from mlcore.registry import UnknownVersion

from .adaptation_corpus import adaptation_corpus, corpus_judged_check
from .corpora import corpus_choices
from .kinds import MAX_STEPS_SPEC, ModelKind, ParamSpec, TrainingContext, TrainOutcome
from .model_store import registry

# The app's evaluation of a base folder (None: the general MiniLM; a run passes the folder it
# judges): {metric name: value}, higher is better, the main metric first. It gets the run's
# context (progress, stop, log) and the evaluation's step cap.
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
    # Called with the version once a base is put in production (e.g. re-embed what it serves).
    on_production: Callable[[int], None] | None = None
    # The base models (mlcore.base_models.BASE_MODELS) whose adapted form the app uses (its
    # training's "auto" choice, its retrieval or catalog vectors): an adapted base of another
    # model would never serve.
    base_models: tuple[str, ...] = ("minilm",)


def adapted_base_name(app: str) -> str:
    return f"{app}-base"


def _production(name: str) -> tuple[int, dict[str, Any]] | None:
    """The production version of `name` and its params, read once; None without one."""
    try:
        version = registry().resolve(name)
    except UnknownVersion:
        return None
    return version, registry().info(name, version).params


def production_params(name: str) -> dict[str, Any] | None:
    """The params the production version of `name` was trained with; None without one."""
    production = _production(name)
    return None if production is None else production[1]


def adapted_base_version(app: str, model: str) -> int | None:
    """The version number of the app's production adapted base when it was adapted from the
    base model `model` (a name of mlcore.base_models.BASE_MODELS); None otherwise."""
    production = _production(adapted_base_name(app))
    if production is None or (production[1].get("base_model") or "minilm") != model:
        return None
    return production[0]


def adapted_base_path(app: str, model: str) -> Path | None:
    """The folder of the app's production adapted base when it was adapted from the base model
    `model`; None otherwise: a base adapted from another model is never served in its place."""
    version = adapted_base_version(app, model)
    return None if version is None else adapted_base_version_path(app, version)


def adapted_base_version_path(app: str, version: int) -> Path:
    """The encoder folder of version `version` of the app's adapted base (in production or
    not: what an index built with it needs to embed its queries)."""
    return registry().artifact_path(adapted_base_name(app), version)


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


def _base_model_spec(spec: AdaptedBase) -> ParamSpec:
    return replace(
        PARAM_SPECS[-1],
        help="The encoder adapted (one the app serves from), judged against its general form, "
        "or against the production adapted base when that was adapted from it too.",
        choices=lambda: [(name, BASE_MODELS[name]) for name in spec.base_models],
    )


def _param_specs(spec: AdaptedBase) -> tuple[ParamSpec, ...]:
    return (PARAM_SPECS[0], _corpora_spec(spec.app), *PARAM_SPECS[1:-1], _base_model_spec(spec))


def adapted_base_train(spec: AdaptedBase, ctx: TrainingContext) -> TrainOutcome:
    """Adapt the base model to the corpus, then score the adapted base and the base it would
    replace (the general model, or production's adapted base of the same model) with the app's
    evaluation, back to back (metric `gain`: the difference, which the gate needs above zero).
    What can be refused is refused before the adaptation's hours: the model, the corpus, and
    one step of the app's evaluation."""
    params = {spec_.name: spec_.default for spec_ in _param_specs(spec)} | ctx.params
    model = str(params.get("base_model") or "minilm")
    if model not in spec.base_models:
        raise ValueError(
            f"the {spec.app} app serves from {', '.join(spec.base_models)}, not {model}: "
            "an adapted base of another model would never be used"
        )
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
        reference = adapted_base_version_path(spec.app, reference_version)
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


def adapted_base_gate(metrics: dict[str, Any], name: str | None = None) -> str | None:
    """Refuse an adapted base unless its app's evaluation beat the base it would replace: no
    metric of the evaluation worse, and one better (an app judged on one metric: that one);
    and, for the kind `name`, unless that base is still production's (not moved since the run,
    nor a base adapted from another model that it would silently displace)."""
    gain = metrics.get("gain")
    if not isinstance(gain, (int, float)):
        return "the adapted base has no evaluation by its app (no gain measured)"
    if name is not None and "reference_version" in metrics:
        production = _production(name)
        current = None if production is None else production[0]
        if current != metrics["reference_version"]:
            measured = metrics["reference_version"]
            against = f"v{measured}" if measured is not None else "the general base"
            now = f"v{current}" if current is not None else "none"
            return (
                f"production's {name} is {now} now, but this version was measured against "
                f"{against} (of {metrics.get('base_model')}): adapt again to compare with it"
            )
    gains = metrics.get("gains") or {metrics.get("app_metric", "the app's metric"): gain}
    worse = [name for name, change in gains.items() if change < 0]
    if worse:
        return "not better: " + "; ".join(_versus(metrics, name) for name in worse)
    if not any(change > 0 for change in gains.values()):
        return "not better: " + "; ".join(_versus(metrics, name) for name in gains)
    return None


def adapted_base_kind(spec: AdaptedBase) -> ModelKind:
    """The `<app>-base` kind of `spec` (register it in the app's ready())."""
    return ModelKind(
        name=adapted_base_name(spec.app),
        title=f"{spec.title}: adapted base",
        loader=_base_folder,
        main_metric="gain",
        tolerance=0.0,
        train=partial(adapted_base_train, spec),
        warm=False,
        params=_param_specs(spec),
        gate=partial(adapted_base_gate, name=adapted_base_name(spec.app)),
        on_production=spec.on_production,
    )
