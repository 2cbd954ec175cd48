"""Fine-tuning: `fit` and its phases (data, model, epochs of steps, early stopping, report)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..base_models import base_model_path, offline
from ..config import resolve_device
from ..serving.device import autocast, training_precision
from .ensembles import fit_ensemble
from .model import TextClassifier
from .neighbours import head_centroids_init, metrics_final
from .run import (
    ProgressEvent,
    TrainConfig,
    TrainingCancelled,
    TrainResult,
    set_seed,
    validation_split,
)
from .steps import (
    EmbeddingAdversary,
    batch_loss,
    batch_pad,
    length_bucketed_batches,
    param_groups,
)

Progress = Callable[[ProgressEvent], None]


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    config: TrainConfig = TrainConfig(),
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[str] | None = None,
    base_model: str | Path | None = None,
    device: str = "auto",
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    soft_targets: npt.NDArray[np.float32] | None = None,
) -> TrainResult:
    """Fine-tune a sequence classifier: AdamW, linear warmup/decay, early stopping on macro-F1.

    Without `val_texts` a stratified `config.val_fraction` of the data is held out for
    validation. The returned classifier carries the best epoch's weights. `soft_targets`
    (one row per text, columns in sorted label order) distils a teacher into this model.
    """
    offline()
    if len(texts) != len(labels) or not texts:
        raise ValueError("need as many labels as texts, and at least one text")
    if config.ensemble > 1:  # an ensemble is made of single fits, with fit's own arguments
        return fit_ensemble(
            texts,
            labels,
            config=config,
            val_texts=val_texts,
            val_labels=val_labels,
            base_model=base_model,
            device=device,
            progress=progress,
            should_stop=should_stop,
            member_fit=fit,
        )
    _config_check(config)
    set_seed(config.seed)
    data = _data_prepare(texts, labels, config, val_texts, val_labels, soft_targets)
    classifier = _classifier_build(config, data.label_names, base_model, resolve_device(device))
    inputs = _inputs_encode(classifier.tokenizer, data, config)
    if config.head_init == "centroids":
        head_centroids_init(
            classifier.model,
            classifier.tokenizer,
            inputs.enc,
            inputs.y,
            len(data.label_names),
            classifier.device,
        )
    loop = _loop_start(classifier, inputs, config, progress, should_stop)
    history, best_epoch, stopped_early = _epochs_run(loop, data)
    metrics = metrics_final(
        classifier, config, inputs.enc, inputs.y, data.val_texts, data.val_labels, loop.started
    )
    metrics["train_precision"] = training_precision(classifier.device, config.precision)
    return TrainResult(classifier, metrics, history, best_epoch, stopped_early)


# -- data and model ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Data:
    """A fit's training and validation texts, the label names in column order, soft targets."""

    texts: Sequence[str]
    labels: Sequence[str]
    val_texts: Sequence[str]
    val_labels: Sequence[str]
    label_names: list[str]
    soft_targets: npt.NDArray[np.float32] | None


@dataclass(frozen=True)
class _Inputs:
    """The training texts tokenized, their label ids, and the soft training targets if any."""

    enc: Any
    y: Any
    targets: Any
    lengths: list[int]


def _config_check(config: TrainConfig) -> None:
    if config.pooling != "mean" and (config.head_init == "centroids" or config.neighbours_k):
        raise ValueError("centroid head init and neighbours need pooling='mean'")
    if config.head_init not in ("random", "centroids"):
        raise ValueError(f"unknown head_init {config.head_init!r}")


def _data_prepare(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    soft_targets: npt.NDArray[np.float32] | None,
) -> _Data:
    """The validation split (held out from the data unless given) and the checked targets."""
    if soft_targets is not None and soft_targets.shape[0] != len(texts):
        raise ValueError("need one row of soft targets per text")
    if val_texts is None or val_labels is None:
        texts, labels, val_texts, val_labels, soft_targets = validation_split(
            texts, labels, config, soft_targets
        )
    label_names = sorted(set(labels) | set(val_labels))
    if soft_targets is not None and soft_targets.shape[1] != len(label_names):
        raise ValueError(f"soft targets need {len(label_names)} columns (sorted label order)")
    return _Data(texts, labels, val_texts, val_labels, label_names, soft_targets)


def _classifier_build(
    config: TrainConfig, label_names: list[str], base_model: str | Path | None, dev: str
) -> TextClassifier:
    """The base model with a fresh head for `label_names`, its word embeddings frozen if asked."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = str(base_model or base_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    model: Any
    if config.pooling == "mean":
        from transformers import AutoModel

        # heavy: the heads module imports torch
        from ..heads import MeanPoolClassifier

        model = MeanPoolClassifier(AutoModel.from_pretrained(base), len(label_names)).to(dev)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
        ).to(dev)
    if config.freeze_word_embeddings:
        _encoder(model, config).embeddings.word_embeddings.weight.requires_grad_(False)
    return TextClassifier(
        model,
        tokenizer,
        label_names,
        device=dev,
        max_length=config.max_length,
        pooling=config.pooling,
    )


def _encoder(model: Any, config: TrainConfig) -> Any:
    return model.encoder if config.pooling == "mean" else model.base_model


def _inputs_encode(tokenizer: Any, data: _Data, config: TrainConfig) -> _Inputs:
    """Token ids, label ids and, when distilling, the mixed targets: (1 - w) x one-hot + w x
    the teacher's normalised probabilities."""
    import torch

    label_id = {name: i for i, name in enumerate(data.label_names)}
    enc = tokenizer(list(data.texts), truncation=True, max_length=config.max_length)
    y = torch.tensor([label_id[label] for label in data.labels])
    targets = None
    if data.soft_targets is not None:
        onehot = torch.nn.functional.one_hot(y, len(data.label_names)).float()
        teacher = torch.as_tensor(np.asarray(data.soft_targets, dtype=np.float32))
        teacher = teacher / teacher.sum(dim=1, keepdim=True).clamp(min=1e-9)
        targets = (1 - config.distil_weight) * onehot + config.distil_weight * teacher
    return _Inputs(enc, y, targets, [len(ids) for ids in enc["input_ids"]])


# -- the epochs -------------------------------------------------------------------------------
@dataclass
class _Loop:
    """What the training loop carries from step to step."""

    classifier: TextClassifier
    inputs: _Inputs
    config: TrainConfig
    optimizer: Any
    scheduler: Any
    generator: Any
    adversary: EmbeddingAdversary | None
    steps_per_epoch: int
    total_steps: int
    progress: Progress | None
    should_stop: Callable[[], bool] | None
    step: int = 0
    started: float = field(default_factory=time.monotonic)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch as `length_bucketed_batches` cuts them (pools of 50 batches)."""
    pool = batch_size * 50
    if n < 2 * pool:
        return math.ceil(n / batch_size)
    return sum(math.ceil(min(pool, n - s) / batch_size) for s in range(0, n, pool))


def _loop_start(
    classifier: TextClassifier,
    inputs: _Inputs,
    config: TrainConfig,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
) -> _Loop:
    """AdamW over the parameter groups, a linear warmup/decay schedule, the batch order's seed."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    steps_per_epoch = _steps_per_epoch(len(inputs.lengths), config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    optimizer = torch.optim.AdamW(param_groups(classifier.model, config), lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(total_steps * config.warmup_ratio), total_steps
    )
    embeddings = _encoder(classifier.model, config).embeddings
    return _Loop(
        classifier=classifier,
        inputs=inputs,
        config=config,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=torch.Generator().manual_seed(config.seed),
        adversary=(
            EmbeddingAdversary(embeddings, config.adversarial_eps)
            if config.adversarial_eps
            else None
        ),
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        progress=progress,
        should_stop=should_stop,
    )


def _epochs_run(loop: _Loop, data: _Data) -> tuple[list[dict[str, Any]], int, bool]:
    """Train epoch by epoch until the last, `max_steps`, or `patience` epochs without a better
    validation macro-F1; the model ends with the best epoch's weights.

    Returns (history, best epoch, stopped early)."""
    config, model = loop.config, loop.classifier.model
    history: list[dict[str, Any]] = []
    best_f1, best_epoch, best_state, bad_epochs = -1.0, 0, None, 0
    stopped_early = False
    try:
        for epoch in range(1, config.epochs + 1):
            epoch_loss = _epoch_train(loop, epoch)
            val_f1 = _epoch_validate(loop, epoch, epoch_loss, data, history)
            if val_f1 > best_f1 + 1e-4:
                best_f1, best_epoch, bad_epochs = val_f1, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs >= config.patience:
                    stopped_early = True
                    break
            if config.max_steps and loop.step >= config.max_steps:
                break
    finally:
        if loop.adversary is not None:
            loop.adversary.remove()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history, best_epoch, stopped_early


def _epoch_train(loop: _Loop, epoch: int) -> float:
    """One pass over the shuffled, length-bucketed batches; the summed batch losses."""
    loop.classifier.model.train()
    epoch_loss = 0.0
    for idx in length_bucketed_batches(loop.inputs.lengths, loop.config.batch_size, loop.generator):
        if loop.should_stop and loop.should_stop():
            raise TrainingCancelled()
        loss = _step_take(loop, idx)
        epoch_loss += loss
        _progress_report(loop, epoch, loss)
        if loop.config.max_steps and loop.step >= loop.config.max_steps:
            break
    return epoch_loss


def _step_take(loop: _Loop, idx: list[int]) -> float:
    """Forward, backward (and the FGM pass), a clipped optimiser step; the batch's loss."""
    import torch

    model, inputs = loop.classifier.model, loop.inputs
    device = loop.classifier.device
    batch = batch_pad(loop.classifier.tokenizer, inputs.enc, idx, device)
    precision = loop.config.precision
    with autocast(device, training=True, precision=precision):  # bf16 where native
        loss = batch_loss(model, batch, idx, inputs.y, inputs.targets)
    loss.backward()
    if loop.adversary is not None:
        loop.adversary.perturb()
        with autocast(device, training=True, precision=precision):
            adversarial = batch_loss(model, batch, idx, inputs.y, inputs.targets)
        adversarial.backward()
        loop.adversary.clear()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    loop.optimizer.step()
    loop.scheduler.step()
    loop.optimizer.zero_grad()
    loop.step += 1
    return float(loss.item())


def _epoch_validate(
    loop: _Loop, epoch: int, epoch_loss: float, data: _Data, history: list[dict[str, Any]]
) -> float:
    """Record the epoch in `history` and report it; the score early stopping compares
    (validation macro-F1, or 1 - the training loss without validation texts)."""
    loop.classifier.model.eval()
    report = loop.classifier.evaluate(data.val_texts, data.val_labels) if data.val_texts else None
    history.append(
        {
            "epoch": epoch,
            "train_loss": epoch_loss / max(1, loop.steps_per_epoch),
            "val_macro_f1": report["macro"]["f1"] if report else None,
            "val_accuracy": report["accuracy"] if report else None,
        }
    )
    _progress_report(
        loop,
        epoch,
        history[-1]["train_loss"],
        val_macro_f1=history[-1]["val_macro_f1"],
        val_accuracy=history[-1]["val_accuracy"],
        phase="epoch",
    )
    return float(report["macro"]["f1"]) if report else 1.0 - epoch_loss


def _progress_report(
    loop: _Loop,
    epoch: int,
    loss: float,
    *,
    val_macro_f1: float | None = None,
    val_accuracy: float | None = None,
    phase: str = "step",
) -> None:
    if loop.progress is None:
        return
    elapsed = time.monotonic() - loop.started
    loop.progress(
        ProgressEvent(
            epoch,
            loop.config.epochs,
            loop.step,
            loop.total_steps,
            loss,
            elapsed,
            elapsed / loop.step * (loop.total_steps - loop.step),
            val_macro_f1,
            val_accuracy,
            phase=phase,
        )
    )
