"""The "sentiment" model kind: training data, fine-tuning with mlcore, evaluation."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from apps.mlops.runtime import (
    TrainingContext,
    TrainOutcome,
    adapted_base_path,
    kind_get,
    params_validate,
)
from mlcore import base_models
from mlcore.language import base_model_pick

from .defaults import DEFAULT_PARAMS as DEFAULT_PARAMS
from .distillation import distillation_targets, student_config
from .training_data import (
    TrainingData,
    corrections_mark_used,
    set_ids_parse,
    training_data_assemble,
)
from .training_params import PARAM_SPECS as PARAM_SPECS
from .uploads import LabelledRow, UploadError, labelled_read

MODEL_NAME = "sentiment"
DEMO_DATA = Path(__file__).resolve().parent / "data" / "demo_sentences.csv"


def training_rows_load(path: str | Path) -> list[LabelledRow]:
    """Labelled rows of a CSV or PhraseBank file; UploadError naming the first bad lines."""
    path = Path(path)
    if not path.is_file():
        raise UploadError(f"no training file at {path}")
    rows, errors = labelled_read(path.read_bytes(), path.name)
    if errors:
        shown = "; ".join(f"line {e.line}: {e.reason}" for e in errors[:5])
        raise UploadError(f"{len(errors)} bad line(s) in {path.name}: {shown}")
    if not rows:
        raise UploadError(f"{path.name} has no labelled sentences")
    return rows


def _params_check(params: dict[str, Any]) -> None:
    """ValueError naming each unusable number or base model, before any data or model is read
    (zero epochs would register an untrained model, a zero batch size fails deep inside). The
    bounds are PARAM_SPECS, which the run forms and the API check too; this covers the command
    line and the admin, whose other names pass through as before."""

    checked = {spec.name for spec in PARAM_SPECS if spec.type in ("int", "float")} | {
        "base_model",
        "teacher_base",
    }
    params_validate(kind_get(MODEL_NAME), {k: v for k, v in params.items() if k in checked})


def sentiment_train(ctx: TrainingContext) -> TrainOutcome:
    """Fine-tune MiniLM (or `base_model`) on a file (default: the demo set), imported sets and
    corrections.

    Params `sets` picks the imported sets ("all", the default; "none"; or a list of ids) and
    `include_corrections` the analysts' corrections; a correction overrides a sentence's label.
    """
    params = {**DEFAULT_PARAMS, **ctx.params}
    _params_check(params)
    return sentiment_fit(ctx, params, None)


def _base_choose(params: dict[str, Any], ctx: TrainingContext, texts: list[str]) -> Path:
    """The encoder fine-tuned: the named base, or with "auto" (the default) multilingual for a
    Chinese or mixed training set, else MiniLM; with "auto", the app's production adapted base
    instead when it was adapted from the model picked."""
    name = base_model_pick(texts, str(params.get("base_model") or "auto"))
    adapted = adapted_base_path(MODEL_NAME, name) if _auto(params) else None
    if adapted is not None:
        ctx.log(f"base model: the production adapted base ({adapted})")
        return adapted
    try:
        base = base_models.base_model_resolve(name)
    except base_models.BaseModelMissing as exc:
        raise ValueError(str(exc)) from None
    ctx.log(f"base model: {name} ({base})")
    return base


def _auto(params: dict[str, Any]) -> bool:
    return str(params.get("base_model") or "auto") == "auto"


def params_data(params: dict[str, Any]) -> TrainingData:
    """The labelled rows a run with `params` trains on: its file (the demo set unless given),
    its sets, its corrections."""
    base_path = params.get("data") or DEMO_DATA
    return training_data_assemble(
        base_path=base_path,
        base_rows=training_rows_load(base_path),
        set_ids=set_ids_parse(params.get("sets")),
        include_corrections=bool(params.get("include_corrections")),
    )


def validation_rows(params: dict[str, Any], labels: list[str]) -> tuple[list[int], list[int]]:
    """(training, validation) row indices of a run with `params` over rows labelled `labels`:
    the validation rows are the held-out rows its metrics are measured on."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import stratified_split

    return stratified_split(labels, float(params["val_fraction"]), int(params["seed"]))


def sentiment_fit(ctx: TrainingContext, params: dict[str, Any], base: Path | None) -> TrainOutcome:
    """Fine-tune `base` (None: chosen from the data, _base_choose) with `params` (checked,
    defaults filled in); with `unlabelled` files or corpora, or enough ingested documents
    (`distil_documents`), distil a teacher's probabilities over them into the model
    (apps/sentiment/distillation.py)."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import ProgressEvent, TrainConfig, final_report_line, fit

    data = params_data(params)
    rows = data.rows
    for used in data.sets:
        ctx.log(f"labelled set {used['id']} ({used['name']}): {used['rows']} sentences")
    if data.corrections:
        ctx.log(f"{data.corrections} analyst correction(s) join the training set")
    texts = [r.sentence for r in rows]
    labels = [r.label for r in rows]
    distribution = dict(Counter(labels))
    ctx.log(f"{len(rows)} labelled sentences: {distribution}")
    if base is None:
        base = _base_choose(params, ctx, texts)
    config = TrainConfig(
        epochs=int(params["epochs"]),
        learning_rate=float(params["learning_rate"]),
        batch_size=int(params["batch_size"]),
        max_length=int(params["max_length"]),
        val_fraction=float(params["val_fraction"]),
        seed=int(params["seed"]),
        max_steps=int(params["max_steps"]) if params.get("max_steps") else None,
        patience=int(params.get("patience", 2)),
        neighbours_k=int(params.get("neighbours_k", 0)),
        layer_lr_decay=float(params.get("layer_lr_decay", 1.0)),
        adversarial_eps=float(params.get("adversarial_eps", 0.0)),
        # Optional, off by default: on PhraseBank it did not beat one plain model
        # (docs/sentiment.md).
        ensemble=int(params.get("ensemble", 1)),
    )

    def on_progress(event: ProgressEvent) -> None:
        payload = {
            "phase": event.phase,
            "epoch": event.epoch,
            "epochs": event.epochs,
            "step": event.step,
            "total_steps": event.total_steps,
            "loss": round(event.loss, 4),
            "eta_s": round(event.eta_s),
            "val_macro_f1": event.val_macro_f1,
            "val_accuracy": event.val_accuracy,
        }
        ctx.progress(payload)
        if event.phase == "epoch":
            ctx.log(
                f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.3f}, "
                f"val macro-F1 {event.val_macro_f1 or 0:.3f}, "
                f"val accuracy {event.val_accuracy or 0:.3f}"
            )

    train_idx, val_idx = validation_rows(params, labels)
    if not val_idx or len(set(labels)) < 2:
        raise UploadError(
            f"{len(rows)} sentences are too few: need at least two labels and enough rows per "
            "label to hold out a validation set (about 7 per label)"
        )
    val_texts = [texts[i] for i in val_idx]
    val_labels = [labels[i] for i in val_idx]
    train_texts = [texts[i] for i in train_idx]
    train_labels = [labels[i] for i in train_idx]
    distilled = distillation_targets(
        ctx=ctx,
        params=params,
        base=base,
        config=config,
        train=(train_texts, train_labels),
        validation=(val_texts, val_labels),
    )
    if distilled:  # the version's params say what the student trained with
        config = student_config(ctx, config, distilled.teacher_members)
        params = {**params, "epochs": config.epochs, "adversarial_eps": config.adversarial_eps}
    result = fit(
        distilled.texts if distilled else train_texts,
        distilled.labels if distilled else train_labels,
        soft_targets=distilled.probabilities if distilled else None,
        config=config,
        val_texts=val_texts,
        val_labels=val_labels,
        base_model=base,
        progress=on_progress,
        should_stop=ctx.should_stop,
    )
    ctx.log(final_report_line(result.metrics))
    artifact = ctx.workdir / "artifact"
    result.classifier.save(artifact)
    with (artifact / "eval.jsonl").open("w") as handle:
        for text, label in zip(val_texts, val_labels):
            handle.write(json.dumps({"text": text, "label": label}) + "\n")
    metrics = {
        "macro_f1": result.metrics["macro"]["f1"],
        "accuracy": result.metrics["accuracy"],
        "per_class": result.metrics["per_class"],
        "confusion_matrix": result.metrics["confusion_matrix"],
        "labels": result.metrics["labels"],
        "val_size": result.metrics["val_size"],
        "train_size": result.metrics["train_size"],
        "train_seconds": result.metrics["train_seconds"],
        "corrections": data.corrections,
        **(distilled.metrics if distilled else {}),
    }
    digest = hashlib.sha256(
        "\n".join(f"{t}\t{y}" for t, y in zip(texts, labels)).encode()
    ).hexdigest()

    def mark_corrections(version: int) -> None:
        corrections_mark_used(correction_ids=data.correction_ids, version=version)

    return TrainOutcome(
        artifact_dir=artifact,
        metrics=metrics,
        data_hash=digest,
        data_size=len(rows),
        label_distribution=distribution,
        base_model=str(base),
        params={
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()},
            # What the run actually trained on, so a version can be traced to its data.
            "training_data": {
                "base": data.base,
                "base_rows": data.base_rows,
                "sets": data.sets,
                "corrections": data.corrections,
            },
        },
        history=result.history,
        after_register=mark_corrections if data.correction_ids else None,
    )


def classifier_load(path: Path) -> Any:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TextClassifier

    return TextClassifier.load(path)
