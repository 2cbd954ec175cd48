"""The support-intent model: past questions labelled with intents, fine-tuned with mlcore."""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from apps.core.encodings import encoding_detect, text_open
from apps.mlops.runtime import (
    MAX_STEPS_SPEC,
    ModelKind,
    ParamSpec,
    TrainingContext,
    TrainOutcome,
    adapted_base_path,
    inference_timer,
    rows_batched,
)
from apps.mlops.services import model_available, model_load, registry
from mlcore.base_models import BASE_MODELS, BaseModelMissing, base_model_resolve
from mlcore.language import base_model_pick
from mlcore.registry import data_hash

from .models import PastConversation
from .selectors import knowledge_base_list

log = logging.getLogger(__name__)

INTENT_MODEL = "support-intent"
MIN_ROWS_PER_LABEL = 2


class TrainingDataError(ValueError):
    """The training data cannot be used; the message says what to fix."""


def rows_from_csv(path: str | Path) -> list[tuple[str, str]]:
    """(text, category) rows of a banking77-style CSV; refuses files without those columns."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path} does not exist")
    with path.open("rb") as raw, text_open(raw, encoding_detect(raw)) as fh:
        reader = csv.DictReader(fh)
        fields = set(reader.fieldnames or [])
        if not {"text", "category"} <= fields:
            raise TrainingDataError(
                f"{path.name} needs the columns text,category (found: {', '.join(sorted(fields))})"
            )
        rows = [
            (r["text"].strip(), r["category"].strip())
            for r in reader
            if (r.get("text") or "").strip() and (r.get("category") or "").strip()
        ]
    if not rows:
        raise TrainingDataError(f"{path.name} has no rows with both text and category")
    return rows


def past_labelled(kb_id: int | None) -> list[tuple[int, int, str, str, str]]:
    """(pk, kb id, question, intent, best reply) of the labelled past conversations (of one
    knowledge base when `kb_id`), in id order: the order intent_held_out splits them in."""
    qs = PastConversation.objects.exclude(intent="").order_by("pk")
    if kb_id:
        qs = qs.filter(kb_id=kb_id)
    return list(qs.values_list("pk", "kb_id", "question", "intent", "best_reply"))


def rows_from_past(kb_id: int | None) -> list[tuple[str, str]]:
    """(question, intent) of the labelled past conversations (past_labelled)."""
    return [(question, intent) for _, _, question, intent, _ in past_labelled(kb_id)]


def intent_held_out(labels: list[str]) -> tuple[list[int], list[int]]:
    """(training, held-out) indices of rows labelled `labels`: 15% of each intent held out,
    always the same ones for the same rows (an intent with fewer than 4 rows holds none out)."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import stratified_split

    return stratified_split(labels, 0.15, 42)


def _config(params: dict[str, Any], n: int) -> Any:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TrainConfig

    small = n < 3000
    # Few examples per intent need more passes and a higher rate to move the encoder at all.
    defaults: dict[str, Any] = (
        {"epochs": 12, "batch_size": 16, "learning_rate": 2e-4, "max_length": 32, "patience": 4}
        if small
        else {
            "epochs": 6,
            "batch_size": 32,
            "learning_rate": 1e-4,
            "max_length": 48,
            "patience": 3,
            # Two seeds served as one model, word embeddings trained too: banking77 0.931 in
            # 17 min on 2 cores against 0.927 in 7 min for one member (bench/RESULTS.md);
            # `support_train --ensemble 1` halves training time and intent inference cost.
            "ensemble": 2,
            "freeze_word_embeddings": False,
        }
    )
    # The head starts as a nearest-centroid classifier over the base sentence embeddings and
    # learns 10x faster than the encoder; a 10-nearest-neighbour vote over the fine-tuned
    # embeddings is mixed in where validation says it helps (see bench/RESULTS.md).
    defaults |= {"head_init": "centroids", "head_lr_multiplier": 10.0, "neighbours_k": 10}
    allowed = {
        "epochs",
        "batch_size",
        "learning_rate",
        "max_length",
        "patience",
        "max_steps",
        "seed",
        "ensemble",
        "neighbours_k",
    }
    defaults.update({k: v for k, v in params.items() if k in allowed})
    return TrainConfig(**defaults)


def knowledge_base_choices() -> list[tuple[int, str]]:
    """The knowledge bases as (id, name) for the run forms on the Models page."""

    return [(kb.pk, kb.name) for kb in knowledge_base_list().order_by("pk")]


_AUTO = "Empty: chosen from the data size (under 3000 questions: {small}, else {large})."
# What a run started from the Models page or the API may set (`_config` reads the rest).
PARAM_SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "kb_id",
        "choice",
        None,
        "Train on the labelled past conversations of this knowledge base (empty: all of them).",
        label="Knowledge base",
        choices=knowledge_base_choices,
    ),
    ParamSpec("epochs", "int", None, _AUTO.format(small=12, large=6), minimum=1, maximum=100),
    ParamSpec(
        "learning_rate",
        "float",
        None,
        _AUTO.format(small="2e-4", large="1e-4"),
        minimum=0,
        minimum_exclusive=True,
        maximum=1,
    ),
    ParamSpec("batch_size", "int", None, _AUTO.format(small=16, large=32), minimum=1, maximum=1024),
    ParamSpec(
        "max_length",
        "int",
        None,
        _AUTO.format(small=32, large=48),
        label="Max length (tokens)",
        minimum=1,
        maximum=512,
    ),
    ParamSpec(
        "ensemble",
        "int",
        None,
        _AUTO.format(small=1, large=2) + " Inference costs scale with it.",
        minimum=1,
        maximum=10,
        advanced=True,
    ),
    ParamSpec(
        "patience",
        "int",
        None,
        _AUTO.format(small=4, large=3),
        minimum=1,
        advanced=True,
    ),
    ParamSpec(
        "neighbours_k",
        "int",
        10,
        "Nearest neighbours mixed into the vote (0: off).",
        label="Neighbours k",
        minimum=0,
        maximum=100,
        advanced=True,
    ),
    ParamSpec("seed", "int", 42, "Random seed.", minimum=0, advanced=True),
    ParamSpec(
        "base_model",
        "choice",
        "auto",
        "The pretrained model fine-tuned; auto: multilingual for a Chinese or mixed training set, "
        "else minilm (the better one for English).",
        label="Base model",
        choices=lambda: [("auto", "auto (from the data's languages)"), *BASE_MODELS.items()],
        advanced=True,
    ),
    MAX_STEPS_SPEC,
    ParamSpec(
        "data",
        "str",
        None,
        "A CSV file in the training files folder (columns text,category) used instead of past "
        "conversations.",
        label="Training file",
        advanced=True,
        server_files=True,
    ),
)


def intent_train(ctx: TrainingContext) -> TrainOutcome:
    """Train from `params["data"]` (CSV text,category) or the KB's labelled past conversations."""
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import final_report_line, fit

    params = dict(ctx.params)
    rows = (
        rows_from_csv(params["data"]) if params.get("data") else rows_from_past(params.get("kb_id"))
    )
    counts: dict[str, int] = {}
    for _, label in rows:
        counts[label] = counts.get(label, 0) + 1
    thin = sorted(label for label, c in counts.items() if c < MIN_ROWS_PER_LABEL)
    if thin:
        raise TrainingDataError(
            f"every intent needs at least {MIN_ROWS_PER_LABEL} examples; too few for: "
            + ", ".join(thin[:10])
        )
    if len(counts) < 2:
        raise TrainingDataError("need at least two intents to train a classifier")
    train_idx, held_idx = intent_held_out([label for _, label in rows])
    train = [rows[i] for i in train_idx]
    held = [rows[i] for i in held_idx]
    config = _config(params, len(train))
    # The base: the adapted-base kind's evaluation names the one it scores ("base_dir"); else
    # "auto" picks multilingual for a Chinese or mixed set, else MiniLM, and then the production
    # adapted base instead when it was adapted from the model picked.
    requested = params.get("base_model") or "auto"
    base_name = base_model_pick([t for t, _ in rows], requested)
    adapted = adapted_base_path("support", base_name) if requested == "auto" else None
    base: Any = params.get("base_dir") or adapted
    if base is None:
        try:
            base = base_model_resolve(base_name)
        except BaseModelMissing as exc:
            raise TrainingDataError(str(exc)) from None
        base_label = "all-MiniLM-L6-v2" if base_name == "minilm" else str(base)
        ctx.log(f"base model: {base_name} ({base})")
    else:
        base_label = str(base)
        ctx.log(f"base model: an adapted base ({base})")
    ctx.log(f"training on {len(train)} questions, {len(counts)} intents, validating on {len(held)}")

    def progress(event: Any) -> None:
        payload = asdict(event)
        ctx.progress(payload)
        if event.phase == "epoch":
            ctx.log(
                f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.3f}, "
                f"val accuracy {event.val_accuracy:.3f}"
            )

    result = fit(
        [t for t, _ in train],
        [label for _, label in train],
        config=config,
        val_texts=[t for t, _ in held],
        val_labels=[label for _, label in held],
        base_model=base,
        progress=progress,
        should_stop=ctx.should_stop,
    )
    ctx.log(final_report_line(result.metrics))
    artifact = ctx.workdir / "artifact"
    result.classifier.save(artifact)
    with (artifact / "eval.jsonl").open("w") as fh:
        for text, label in held:
            fh.write(json.dumps({"text": text, "label": label}) + "\n")
    metrics = {
        key: value for key, value in result.metrics.items() if key not in ("confusion_matrix",)
    }
    metrics["macro_f1"] = result.metrics["macro"]["f1"]
    metrics["accuracy"] = result.metrics["accuracy"]
    source = Path(params["data"]).name if params.get("data") else "past conversations"
    return TrainOutcome(
        artifact_dir=artifact,
        metrics=metrics,
        data_hash=data_hash(rows),
        data_size=len(rows),
        label_distribution=counts,
        base_model=base_label,
        params={
            **{k: v for k, v in params.items() if k != "data"},
            "source": source,
            "config": asdict(config),
        },
        history=result.history,
    )


def _production_changed(version: int) -> None:
    """A new production intent model (promoted, overridden or rolled back, from the command, the
    lifecycle pages or a scheduled run): recalibrate the handoff confidence in the background."""
    # Cycle break: tasks import the services, which import this module.
    from .tasks import intent_calibration_refresh_task

    try:
        intent_calibration_refresh_task.delay(version)
    except Exception:  # the promotion stands; support_train and the next promotion recalibrate
        log.exception("could not queue the recalibration for intent v%s", version)


def intent_kind() -> ModelKind:
    # heavy: mlcore.classifier loads torch and transformers
    from mlcore.classifier import TextClassifier

    return ModelKind(
        name=INTENT_MODEL,
        title="Support intent",
        loader=TextClassifier.load,
        main_metric="macro_f1",
        tolerance=0.01,
        train=intent_train,
        params=PARAM_SPECS,
        on_production=_production_changed,
        untrained="the chat answers from the help centre by retrieval alone, without intents",
    )


@dataclass(frozen=True)
class IntentGuess:
    label: str
    probability: float


def intents_predict(texts: list[str]) -> list[IntentGuess] | None:
    """The production intent model's top label per text, or None when no model is trained."""

    if not model_available(INTENT_MODEL):
        return None
    classifier = model_load(INTENT_MODEL)
    with inference_timer(INTENT_MODEL, len(texts)) as observed:
        # Concurrent chat questions share one forward pass (the micro-batcher of this model).
        probs = rows_batched(INTENT_MODEL, classifier, texts, classifier.predict_proba)
        guesses = [
            IntentGuess(classifier.labels[int(row.argmax())], float(row.max())) for row in probs
        ]
        observed.extend((g.label, g.probability) for g in guesses)
    return guesses


def production_intent_version() -> int | None:
    """The version number of the production intent model, None when there is none."""
    if not model_available(INTENT_MODEL):
        return None
    return int(registry().resolve(INTENT_MODEL))


def eval_rows_of_production() -> list[tuple[str, str]]:
    """The held-out validation rows saved with the production intent model."""

    reg = registry()
    path = reg.artifact_path(INTENT_MODEL, reg.resolve(INTENT_MODEL)) / "eval.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["text"], r["label"]) for r in rows]
