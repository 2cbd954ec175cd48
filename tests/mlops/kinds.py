"""Model kinds for the lifecycle tests; import this module (or set ML_KIND_MODULES) to register.

- `test-lookup`: a JSON artifact that answers one fixed label; its "quality" is a parameter, so
  gate tests can make better and worse versions in milliseconds. `steps` and `step_seconds` make
  a run last; with `log_steps` it writes a log line per step (the run page's live log).
- `test-intent`: a real MiniLM classifier fine-tuned on a dozen sentences with a few steps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from apps.mlops.kinds import ModelKind, TrainingContext, TrainOutcome, kind_register
from mlcore.classifier import TrainingCancelled
from mlcore.registry import data_hash


class LookupModel:
    def __init__(self, path: Path) -> None:
        spec = json.loads((path / "model.json").read_text())
        self.answer: str = spec["answer"]
        self.confidence: float = spec["confidence"]

    def predict(self, texts: list[str]) -> list[tuple[str, float]]:
        return [(self.answer, self.confidence) for _ in texts]


def lookup_train(ctx: TrainingContext) -> TrainOutcome:
    steps = int(ctx.params.get("steps", 3))
    pause = float(ctx.params.get("step_seconds", 0))
    started = time.monotonic()
    for step in range(1, steps + 1):
        if ctx.should_stop():
            raise TrainingCancelled()
        time.sleep(pause)
        elapsed = time.monotonic() - started
        if ctx.params.get("log_steps"):
            ctx.log(f"step {step}/{steps} loss {1.0 / step:.4f}")
        ctx.progress(
            {
                "phase": "step",
                "epoch": 1,
                "epochs": 1,
                "step": step,
                "total_steps": steps,
                "loss": 1.0 / step,
                "elapsed_s": elapsed,
                "eta_s": elapsed / step * (steps - step),
            }
        )
    ctx.progress(
        {
            "phase": "epoch",
            "epoch": 1,
            "epochs": 1,
            "step": steps,
            "total_steps": steps,
            "loss": 1.0 / steps,
            "val_macro_f1": ctx.params.get("quality", 0.8),
            "val_accuracy": ctx.params.get("quality", 0.8),
            "elapsed_s": 0,
            "eta_s": 0,
        }
    )
    artifact = ctx.workdir / "artifact"
    artifact.mkdir()
    answer = str(ctx.params.get("answer", "a"))
    (artifact / "model.json").write_text(
        json.dumps({"answer": answer, "confidence": float(ctx.params.get("confidence", 0.9))})
    )
    quality = float(ctx.params.get("quality", 0.8))
    rows = [{"text": f"row {i}", "label": "a" if i % 3 else "b"} for i in range(30)]
    ctx.log(f"trained a lookup model answering {answer!r}")
    return TrainOutcome(
        artifact_dir=artifact,
        metrics={
            "accuracy": quality,
            "labels": ["a", "b"],
            "per_class": {
                "a": {"precision": quality, "recall": quality, "f1": quality, "support": 20},
                "b": {"precision": quality, "recall": quality, "f1": quality, "support": 10},
            },
            "macro": {"precision": quality, "recall": quality, "f1": quality},
            "confusion_matrix": [
                [int(20 * quality), 20 - int(20 * quality)],
                [10 - int(10 * quality), int(10 * quality)],
            ],
        },
        data_hash=data_hash(rows),
        data_size=len(rows),
        label_distribution={"a": 20, "b": 10},
        params=dict(ctx.params),
    )


# This server's held-out rows for `test-lookup`: a version answering "a" scores 2/3 on them,
# one answering "b" 1/3, whatever its archive claims.
LOOKUP_HELD_OUT = ["a"] * 20 + ["b"] * 10


def lookup_evaluate(path: Path) -> dict[str, Any]:
    answers = [answer for answer, _ in LookupModel(path).predict(["row"] * len(LOOKUP_HELD_OUT))]
    hits = sum(answer == label for answer, label in zip(answers, LOOKUP_HELD_OUT))
    return {"accuracy": hits / len(LOOKUP_HELD_OUT), "evaluated_here": True}


kind_register(
    ModelKind(
        name="test-lookup",
        title="Test lookup",
        loader=LookupModel,
        main_metric="accuracy",
        tolerance=0.01,
        train=lookup_train,
        warm=False,
        evaluate=lookup_evaluate,
    )
)

INTENT_ROWS = [
    ("Where is my parcel, it has not arrived", "delivery"),
    ("My order still has not been delivered", "delivery"),
    ("When will the package arrive", "delivery"),
    ("Tracking says the shipment is delayed", "delivery"),
    ("The courier never came with my order", "delivery"),
    ("How long does shipping take", "delivery"),
    ("I want my money back for this item", "refund"),
    ("Please refund my purchase", "refund"),
    ("Can I get a refund for the broken product", "refund"),
    ("Return the item and give me my money back", "refund"),
    ("I was charged twice, refund one payment", "refund"),
    ("How do I request a refund", "refund"),
]


def intent_train(ctx: TrainingContext) -> TrainOutcome:
    from collections import Counter

    from mlcore.classifier import TrainConfig, fit

    texts = [t for t, _ in INTENT_ROWS]
    labels = [lab for _, lab in INTENT_ROWS]
    config = TrainConfig(
        epochs=int(ctx.params.get("epochs", 2)),
        batch_size=4,
        learning_rate=float(ctx.params.get("learning_rate", 1e-4)),
        max_steps=int(ctx.params.get("max_steps", 4)),
        val_fraction=0.34,
        patience=5,
        max_length=32,
    )
    result = fit(
        texts,
        labels,
        config=config,
        device="cpu",
        progress=ctx.progress,
        should_stop=ctx.should_stop,
    )
    artifact = result.classifier.save(ctx.workdir / "artifact")
    with (artifact / "eval.jsonl").open("w") as fh:
        for text, label in INTENT_ROWS:
            fh.write(json.dumps({"text": text, "label": label}) + "\n")
    metrics = dict(result.metrics)
    metrics["macro_f1"] = metrics["macro"]["f1"]
    return TrainOutcome(
        artifact_dir=artifact,
        metrics=metrics,
        data_hash=data_hash(INTENT_ROWS),
        data_size=len(INTENT_ROWS),
        label_distribution=dict(Counter(labels)),
        params=dict(ctx.params),
        history=result.history,
    )


def _load_classifier(path: Path) -> Any:
    from mlcore.classifier import TextClassifier

    return TextClassifier.load(path, device="cpu")


kind_register(
    ModelKind(
        name="test-intent",
        title="Test intents",
        loader=_load_classifier,
        main_metric="macro_f1",
        tolerance=0.05,
        train=intent_train,
        warm=False,
    )
)
