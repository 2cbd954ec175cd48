"""Transformer text classifier: fine-tuning from the MiniLM base, prediction, int8 serving form."""

from __future__ import annotations

import functools
import json
import math
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .config import resolve_device
from .embedder import base_model_path, offline
from .metrics import classification_report
from .types import Prediction

# The int8 form is rebuilt from the fp32 safetensors at every load (dynamic quantisation takes
# well under a second), so no pickled weights are ever read; this file only records that the form
# was derived and measured. Versions from before it may still hold a `quantized_int8.pt`: it is
# never loaded (torch.load of an archive's pickle would run whatever the archive put in it).
QUANTIZED_FILE = "int8.json"
LEGACY_QUANTIZED_FILE = "quantized_int8.pt"
SERVING_FILE = "serving.json"
NEIGHBOURS_FILE = "neighbours.npz"
NEIGHBOUR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


class TrainingCancelled(Exception):
    """Raised inside `fit` when `should_stop` returns True."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one fine-tuning run."""

    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 8e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 64
    val_fraction: float = 0.1
    patience: int = 2
    seed: int = 42
    eval_batch_size: int = 128
    max_steps: int | None = None
    pooling: str = "mean"  # "mean": head on mean-pooled tokens; "cls": the transformer's pooler
    label_smoothing: float = 0.0  # > 0 softens targets: helps where annotators disagree
    # The 30k-row token embedding table is a third of MiniLM's weights: updating it costs
    # time on every step and rarely helps a classifier trained on a few thousand texts.
    freeze_word_embeddings: bool = True
    # The new linear head learns this many times faster than the pretrained encoder.
    head_lr_multiplier: float = 1.0
    # "centroids" (mean pooling only): start the head from each label's mean sentence embedding
    # under the base encoder, a nearest-centroid classifier, instead of random weights.
    head_init: str = "random"
    # > 0 (mean pooling only): keep the training texts' fine-tuned embeddings and mix a
    # k-nearest-neighbour vote into the head's probabilities; the mix weight is chosen on the
    # validation split (0 when neighbours do not help), then validation texts join the memory.
    neighbours_k: int = 0
    neighbours_temperature: float = 0.05
    # > 1: also try the average of the last N epochs' weights (one run's checkpoints average
    # well after fine-tuning); served instead of the best epoch when validation agrees.
    average_epochs: int = 0
    # > 1 (mean pooling only): train this many members with seeds seed, seed+1, ... and serve
    # their averaged predictions as one model (inference costs scale with the count).
    ensemble: int = 1
    # With `soft_targets` given to `fit` (a teacher's probabilities, e.g. an ensemble's): the
    # training target is (1 - w) * the one-hot label + w * the teacher's distribution.
    distil_weight: float = 0.5
    # > 1: train an ensemble of this many members (seeds seed+1, ...) as a teacher, then serve
    # one model (seed `seed`) distilled from its probabilities on the training texts.
    distil_from: int = 0
    # < 1: layer-wise learning-rate decay; the top transformer layer trains at the full rate,
    # each layer below at this factor of the one above, the embeddings lowest.
    layer_lr_decay: float = 1.0
    # > 0: R-Drop; each batch runs twice under different dropout masks and this weight times
    # the symmetric KL divergence between the two predictions joins the loss.
    rdrop_alpha: float = 0.0
    # > 0: adversarial training (FGM); a second pass per batch with the embedding layer's output
    # moved this far (L2 norm per text) up the loss gradient, its gradients added to the first's.
    adversarial_eps: float = 0.0
    # > 0: the top N transformer layers restart from random weights (they hold the most
    # pre-training-specific features).
    reinit_layers: int = 0
    # True: after the neighbour vote, choose one log-probability offset per label on the
    # validation split (a grid in [-1, 1], macro-F1), kept only when it gains at least half a
    # point there. A fit of a few epochs on imbalanced data tends to under-call its minority
    # labels; the offsets move the decision boundaries back without refitting.
    label_offsets: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay}")
        for name in ("rdrop_alpha", "adversarial_eps", "reinit_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class ProgressEvent:
    """What a running fit reports after each step and each epoch."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float
    val_macro_f1: float | None = None
    val_accuracy: float | None = None
    phase: str = "step"


@dataclass
class TrainResult:
    classifier: TextClassifier
    metrics: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def stratified_split(
    labels: Sequence[str], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Indices (train, held-out) with about `fraction` of each label held out."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train: list[int] = []
    held: list[int] = []
    for idx in by_label.values():
        perm = rng.permutation(idx).tolist()
        n_held = round(len(perm) * fraction) if len(perm) > 1 else 0
        held += perm[:n_held]
        train += perm[n_held:]
    return sorted(train), sorted(held)


@dataclass(frozen=True)
class NeighbourMemory:
    """Labelled unit vectors of training texts; votes for the labels of a query's neighbours."""

    vectors: npt.NDArray[np.float32]
    label_ids: npt.NDArray[np.int64]
    k: int
    temperature: float
    weight: float

    def proba(self, queries: npt.NDArray[np.float32], n_labels: int) -> npt.NDArray[np.float32]:
        """(m, n_labels) vote shares: softmax(cosine / temperature) over the k nearest."""
        k = min(self.k, len(self.vectors))
        sims = queries @ self.vectors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else None
        if top is None:
            top = np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / self.temperature)
        votes = np.zeros((len(queries), n_labels), dtype=np.float64)
        rows = np.repeat(np.arange(len(queries)), top.shape[1])
        np.add.at(votes, (rows, self.label_ids[top].ravel()), weights.ravel())
        out: npt.NDArray[np.float32] = (votes / votes.sum(axis=1, keepdims=True)).astype(np.float32)
        return out

    def extended(
        self, vectors: npt.NDArray[np.float32], label_ids: npt.NDArray[np.int64]
    ) -> NeighbourMemory:
        return replace(
            self,
            vectors=np.concatenate([self.vectors, vectors]),
            label_ids=np.concatenate([self.label_ids, label_ids]),
        )


class TextClassifier:
    """Sequence classifier over a Hugging Face model directory; predicts labels + probabilities."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        labels: list[str],
        *,
        device: str = "cpu",
        max_length: int = 128,
        serving: str = "fp32",
        pooling: str = "cls",
        neighbours: NeighbourMemory | None = None,
        label_offsets: npt.NDArray[np.float32] | None = None,
    ) -> None:
        self.model = model
        self.label_offsets = label_offsets
        self.pooling = pooling
        self.neighbours = neighbours
        self.tokenizer = tokenizer
        self.labels = labels
        self.device = device
        self.max_length = max_length
        self.serving = serving
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | Path, *, device: str = "auto", serving: str | None = None
    ) -> TextClassifier:
        """Load a saved classifier; `serving` picks 'fp32' or 'int8' (default: what was saved)."""
        offline()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        serving_file = path / SERVING_FILE
        info = json.loads(serving_file.read_text()) if serving_file.exists() else {}
        form = serving or info.get("serving", "fp32")
        dev = resolve_device(device)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        pooling = info.get("pooling", "cls")
        model: Any
        if pooling == "mean":
            from .heads import MeanPoolClassifier

            labels = list(info["labels"])
            if int(info.get("members", 1)) > 1:
                from .heads import MeanPoolEnsemble

                model = MeanPoolEnsemble.from_pretrained(
                    str(path), len(labels), int(info["members"])
                )
            else:
                model = MeanPoolClassifier.from_pretrained(str(path), len(labels))
        else:
            # safetensors only: a pytorch_model.bin is a pickle and is refused.
            model = AutoModelForSequenceClassification.from_pretrained(
                str(path), use_safetensors=True
            )
            labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if form == "int8":
            model = quantize_dynamic(model)  # from the fp32 weights just loaded: nothing unpickled
            dev = "cpu"  # dynamic int8 kernels are CPU kernels
        model.to(dev).eval()
        neighbours = None
        if info.get("neighbours"):
            with np.load(path / NEIGHBOURS_FILE, allow_pickle=False) as data:
                neighbours = NeighbourMemory(
                    data["vectors"].astype(np.float32),
                    data["label_ids"].astype(np.int64),
                    int(info["neighbours"]["k"]),
                    float(info["neighbours"]["temperature"]),
                    float(info["neighbours"]["weight"]),
                )
        offsets = info.get("label_offsets")
        return cls(
            model,
            tokenizer,
            labels,
            device=dev,
            max_length=int(info.get("max_length", 128)),
            serving=form,
            pooling=pooling,
            neighbours=neighbours,
            label_offsets=np.asarray(offsets, dtype=np.float32) if offsets else None,
        )

    def save(self, path: str | Path) -> Path:
        """Save weights, tokenizer and serving info into a directory (replaced atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.serving == "int8":
            raise ValueError("save the fp32 classifier; the int8 form is derived from it")
        self.model.save_pretrained(str(tmp))
        self.tokenizer.save_pretrained(str(tmp))
        info: dict[str, Any] = {
            "serving": "fp32",
            "max_length": self.max_length,
            "labels": self.labels,
            "pooling": self.pooling,
        }
        members = getattr(self.model, "members", None)
        if members is not None:
            info["members"] = len(members)
        if self.neighbours is not None:
            memory = self.neighbours
            np.savez(tmp / NEIGHBOURS_FILE, vectors=memory.vectors, label_ids=memory.label_ids)
            info["neighbours"] = {
                "k": memory.k,
                "temperature": memory.temperature,
                "weight": memory.weight,
            }
        if self.label_offsets is not None:
            info["label_offsets"] = [float(b) for b in self.label_offsets]
        (tmp / SERVING_FILE).write_text(json.dumps(info))
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
        return path

    # -- prediction ----------------------------------------------------------------------------
    def predict_proba(
        self, texts: Sequence[str], *, batch_size: int = 64
    ) -> npt.NDArray[np.float32]:
        """(n, n_labels) probabilities in the order of `self.labels`."""
        memory = self.neighbours
        if memory is None or memory.weight == 0.0 or len(texts) == 0:
            return self._offsets_apply(self.head_proba(texts, batch_size=batch_size)[0])
        head, pooled = self.head_proba(texts, batch_size=batch_size, pooled=True)
        votes = memory.proba(pooled, len(self.labels))
        mixed: npt.NDArray[np.float32] = (1.0 - memory.weight) * head + memory.weight * votes
        return self._offsets_apply(mixed)

    def _offsets_apply(self, probs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities times exp(offset) per label, renormalised (no offsets: unchanged)."""
        if self.label_offsets is None or len(probs) == 0:
            return probs
        moved = probs * np.exp(self.label_offsets)[None, :]
        out: npt.NDArray[np.float32] = (moved / moved.sum(axis=1, keepdims=True)).astype(np.float32)
        return out

    def head_proba(
        self, texts: Sequence[str], *, batch_size: int = 64, pooled: bool = False
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The head's probabilities, and (with `pooled`) the texts' unit sentence vectors."""
        import torch

        n_labels = len(self.labels)
        if len(texts) == 0:
            return np.zeros((0, n_labels), dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), n_labels), dtype=np.float32)
        vectors: npt.NDArray[np.float32] | None = None
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                idx = order[start : start + batch_size]
                enc = self.tokenizer(
                    [texts[i] or " " for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                result = self.model(**enc)
                out[idx] = torch.softmax(result.logits.float(), dim=-1).cpu().numpy()
                if pooled:
                    unit = torch.nn.functional.normalize(result.pooled.float(), dim=-1)
                    if vectors is None:
                        vectors = np.empty((len(texts), unit.shape[1]), dtype=np.float32)
                    vectors[idx] = unit.cpu().numpy()
        return out, vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)

    def predict(self, texts: Sequence[str], *, batch_size: int = 64) -> list[Prediction]:
        probs = self.predict_proba(texts, batch_size=batch_size)
        return [
            Prediction(
                label=self.labels[int(row.argmax())],
                scores={label: float(p) for label, p in zip(self.labels, row)},
            )
            for row in probs
        ]

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
        preds = [p.label for p in self.predict(texts)]
        return classification_report(labels, preds, self.labels)


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.split(":", 1)[-1].split())


def int8_engine_select() -> str:
    """Set torch's quantized engine for the int8 form (process-wide) and return it.

    `ML_INT8_ENGINE` wins when set; else 'onednn' on CPUs with AMX int8 tiles, where the
    sentiment model ran at 465 sentences/s against 380-408 with torch's default x86 engine
    (bench/RESULTS.md, 2 threads, a Xeon with AMX); else that default, which served 480-585/s
    on the AMD EPYC machines. The saved int8
    weights do not depend on the engine: they are packed for it when loaded.
    """
    import torch

    engines = torch.backends.quantized.supported_engines
    wanted = os.environ.get("ML_INT8_ENGINE") or ("onednn" if "amx_int8" in _cpu_flags() else "")
    if wanted and wanted in engines and torch.backends.quantized.engine != wanted:
        torch.backends.quantized.engine = wanted
    return str(torch.backends.quantized.engine)


def quantize_dynamic(model: Any) -> Any:
    import torch

    int8_engine_select()
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def int8_form_save(path: str | Path) -> Path:
    """Derive the dynamic-int8 form of a saved fp32 classifier and record it (`QUANTIZED_FILE`).

    The record holds the size of the int8 weights; the weights themselves are rebuilt from the
    fp32 safetensors whenever the int8 form is loaded.
    """
    import io

    import torch

    path = Path(path)
    fp32 = TextClassifier.load(path, device="cpu", serving="fp32")
    qmodel = quantize_dynamic(fp32.model)
    buffer = io.BytesIO()
    torch.save(qmodel.state_dict(), buffer)  # only measured, never written or read back
    record = {"form": "dynamic-int8", "derived_from": "fp32", "int8_bytes": buffer.tell()}
    tmp = path / (QUANTIZED_FILE + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.rename(path / QUANTIZED_FILE)
    return path / QUANTIZED_FILE


def serving_form_set(path: str | Path, form: str) -> None:
    """Record which form ('fp32' or 'int8') `TextClassifier.load` uses by default."""
    if form not in ("fp32", "int8"):
        raise ValueError(f"unknown serving form {form!r}")
    path = Path(path)
    info = json.loads((path / SERVING_FILE).read_text())
    info["serving"] = form
    tmp = path / (SERVING_FILE + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.rename(path / SERVING_FILE)


def length_bucketed_batches(
    lengths: Sequence[int], batch_size: int, generator: Any
) -> list[list[int]]:
    """Shuffled batches of similar-length texts: far less padding, same randomness per epoch.

    Indices are shuffled, cut into pools of 50 batches, sorted by length within each pool, split
    into batches, and the batches shuffled again.
    """
    import torch

    perm = torch.randperm(len(lengths), generator=generator).tolist()
    pool = batch_size * 50
    if len(perm) < 2 * pool:
        # Small sets: sorting would make batches uniform in length and often in label too.
        return [perm[i : i + batch_size] for i in range(0, len(perm), batch_size)]
    batches: list[list[int]] = []
    for start in range(0, len(perm), pool):
        chunk = sorted(perm[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in order]


def _pooled_features(model: Any, tokenizer: Any, enc: Any, dev: str) -> Any:
    """(n, hidden) float32 tensor of mean-pooled encoder outputs for tokenized texts."""
    import torch

    was_training = model.training
    model.eval()
    lengths = [len(ids) for ids in enc["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    feats: Any = None
    with torch.inference_mode():
        for start in range(0, len(order), 128):
            idx = order[start : start + 128]
            batch = tokenizer.pad(
                {
                    "input_ids": [enc["input_ids"][i] for i in idx],
                    "attention_mask": [enc["attention_mask"][i] for i in idx],
                },
                return_tensors="pt",
            ).to(dev)
            pooled = model(**batch).pooled.float().cpu()
            if feats is None:
                feats = torch.empty(len(order), pooled.shape[1])
            feats[idx] = pooled
    model.train(was_training)
    return feats.clone()  # a plain tensor, usable outside inference mode


def _head_centroids_init(
    model: Any, tokenizer: Any, enc: Any, y: Any, n_labels: int, dev: str
) -> None:
    """Set the linear head to scaled unit centroids of each label's pooled base embeddings."""
    import torch

    feats = _pooled_features(model, tokenizer, enc, dev)
    mean_norm = float(feats.norm(dim=1).mean())
    unit = torch.nn.functional.normalize(feats, dim=1)
    centroids = torch.zeros(n_labels, unit.shape[1])
    centroids.index_add_(0, y, unit)
    centroids = torch.nn.functional.normalize(centroids, dim=1)
    # logits ~ 10 * cosine(text, centroid): a confident but not saturated start
    with torch.no_grad():
        model.classifier.weight.copy_(centroids * (10.0 / max(mean_norm, 1e-6)))
        model.classifier.bias.zero_()


def _neighbours_attach(
    classifier: TextClassifier,
    config: TrainConfig,
    enc: Any,
    y: Any,
    val_texts: Sequence[str],
    val_labels: Sequence[str],
) -> tuple[dict[str, Any], NeighbourMemory | None]:
    """Attach a neighbour memory with its mix weight picked on validation.

    Returns what was chosen, and the memory to serve once validation is over (the validation
    texts added: they were only held out to choose), or None to keep the attached one.
    """
    import torch

    feats = _pooled_features(classifier.model, classifier.tokenizer, enc, classifier.device)
    memory = NeighbourMemory(
        torch.nn.functional.normalize(feats, dim=1).numpy().astype(np.float32),
        y.numpy().astype(np.int64),
        config.neighbours_k,
        config.neighbours_temperature,
        0.0,
    )
    chosen: dict[str, Any] = {"k": memory.k, "temperature": memory.temperature}
    if not val_texts:
        classifier.neighbours = replace(memory, weight=0.5)
        chosen["weight"] = 0.5
        return chosen, None
    head, pooled = classifier.head_proba(val_texts, pooled=True)
    votes = memory.proba(pooled, len(classifier.labels))
    by_weight: dict[str, float] = {}
    best_w, best_f1 = 0.0, -1.0
    for w in NEIGHBOUR_WEIGHTS:
        mixed = (1.0 - w) * head + w * votes
        preds = [classifier.labels[int(i)] for i in mixed.argmax(axis=1)]
        f1 = float(classification_report(val_labels, preds, classifier.labels)["macro"]["f1"])
        by_weight[str(w)] = round(f1, 4)
        if f1 > best_f1 + 1e-4:
            best_w, best_f1 = w, f1
    chosen["weight"] = best_w
    chosen["val_macro_f1_by_weight"] = by_weight
    if best_w == 0.0:
        classifier.neighbours = None
        return chosen, None
    classifier.neighbours = replace(memory, weight=best_w)
    label_id = {name: i for i, name in enumerate(classifier.labels)}
    val_ids = np.array([label_id[v] for v in val_labels], dtype=np.int64)
    return chosen, classifier.neighbours.extended(pooled, val_ids)


def _validation_split(
    texts: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    soft_targets: npt.NDArray[np.float32] | None = None,
) -> tuple[list[str], list[str], list[str], list[str], npt.NDArray[np.float32] | None]:
    """(train texts, train labels, validation texts, validation labels, train soft targets)."""
    train_idx, val_idx = stratified_split(labels, config.val_fraction, config.seed)
    return (
        [texts[i] for i in train_idx],
        [labels[i] for i in train_idx],
        [texts[i] for i in val_idx],
        [labels[i] for i in val_idx],
        soft_targets[train_idx] if soft_targets is not None else None,
    )


def _state_copy(model: Any) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _average_try(
    classifier: TextClassifier,
    states: list[dict[str, Any]],
    best_f1: float,
    val_texts: Sequence[str],
    val_labels: Sequence[str],
) -> int:
    """Load the mean of `states` if validation macro-F1 is no worse than `best_f1`.

    Returns how many epochs were averaged (0: the caller keeps the best epoch)."""
    import torch

    if len(states) < 2 or not val_texts:
        return 0
    mean = {}
    for key, last in states[-1].items():
        if torch.is_floating_point(last):
            mean[key] = torch.stack([s[key] for s in states]).mean(dim=0)
        else:
            mean[key] = last
    classifier.model.load_state_dict(mean)
    classifier.model.eval()
    f1 = float(classifier.evaluate(val_texts, val_labels)["macro"]["f1"])
    return len(states) if f1 >= best_f1 - 1e-4 else 0


def _final_metrics(
    classifier: TextClassifier,
    config: TrainConfig,
    enc: Any,
    y: Any,
    val_texts: Sequence[str],
    val_labels: Sequence[str],
    started: float,
) -> dict[str, Any]:
    """Attach the neighbour vote (if configured), then the validation report and run facts."""
    chosen, serving_memory = (
        _neighbours_attach(classifier, config, enc, y, val_texts, val_labels)
        if config.neighbours_k
        else (None, None)
    )
    offsets = (
        _offsets_choose(classifier, val_texts, val_labels)
        if config.label_offsets and val_texts
        else None
    )
    metrics = classifier.evaluate(val_texts, val_labels) if val_texts else {}
    if chosen is not None:
        metrics["neighbours"] = chosen
    if offsets is not None:
        metrics["label_offsets"] = offsets
    if serving_memory is not None:
        classifier.neighbours = serving_memory
    metrics["train_config"] = asdict(config)
    metrics["train_size"] = len(enc["input_ids"])
    metrics["val_size"] = len(val_texts)
    metrics["train_seconds"] = round(time.monotonic() - started, 1)
    return metrics


OFFSET_GRID = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
OFFSET_MIN_GAIN = 0.005


def _offsets_choose(
    classifier: TextClassifier, val_texts: Sequence[str], val_labels: Sequence[str]
) -> dict[str, Any]:
    """Set `classifier.label_offsets` by coordinate ascent on validation macro-F1.

    The most frequent validation label stays at 0 (only differences matter). Offsets are
    kept only when they gain OFFSET_MIN_GAIN, so noise on a small validation split does not
    move the boundaries. Returns what was tried and chosen."""
    classifier.label_offsets = None
    probs = classifier.predict_proba(val_texts)
    log_p = np.log(np.clip(probs, 1e-9, None))
    label_id = {name: i for i, name in enumerate(classifier.labels)}
    truth = [label_id[v] for v in val_labels]

    def score(offsets: npt.NDArray[np.float32]) -> float:
        preds = [classifier.labels[int(i)] for i in (log_p + offsets).argmax(axis=1)]
        return float(classification_report(val_labels, preds, classifier.labels)["macro"]["f1"])

    reference = max(set(truth), key=truth.count)
    offsets = np.zeros(len(classifier.labels), dtype=np.float32)
    before = best = score(offsets)
    for _ in range(3):  # passes; stops when a whole pass changes nothing
        moved = False
        for i in range(len(classifier.labels)):
            if i == reference:
                continue
            for value in OFFSET_GRID:
                trial = offsets.copy()
                trial[i] = value
                f1 = score(trial)
                # Ties go to the smaller offset: a move must earn its place.
                if f1 > best + 1e-4 or (abs(f1 - best) <= 1e-4 and abs(value) < abs(offsets[i])):
                    if f1 > best + 1e-4:
                        moved = True
                    offsets, best = trial, max(best, f1)
        if not moved:
            break
    kept = best - before >= OFFSET_MIN_GAIN
    classifier.label_offsets = offsets if kept else None
    return {
        "offsets": {name: round(float(b), 2) for name, b in zip(classifier.labels, offsets)},
        "val_macro_f1_before": round(before, 4),
        "val_macro_f1_after": round(best, 4),
        "kept": kept,
    }


def _fit_ensemble(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    config: TrainConfig,
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    base_model: str | Path | None,
    device: str,
    progress: Callable[[ProgressEvent], None] | None,
    should_stop: Callable[[], bool] | None,
) -> TrainResult:
    """`config.ensemble` members on the same split with seeds seed, seed+1, ..., served as one."""
    import torch

    from .heads import MeanPoolEnsemble

    if config.pooling != "mean":
        raise ValueError("ensembles need pooling='mean'")
    if val_texts is None or val_labels is None:
        texts, labels, val_texts, val_labels, _ = _validation_split(texts, labels, config)
    n_members, started = config.ensemble, time.monotonic()
    results: list[TrainResult] = []
    for member in range(n_members):
        results.append(
            fit(
                texts,
                labels,
                config=replace(
                    config,
                    ensemble=1,
                    neighbours_k=0,
                    label_offsets=False,
                    seed=config.seed + member,
                ),
                val_texts=val_texts,
                val_labels=val_labels,
                base_model=base_model,
                device=device,
                progress=_staged(progress, member, 1, n_members, time.monotonic() - started),
                should_stop=should_stop,
            )
        )
    first = results[0].classifier
    classifier = TextClassifier(
        MeanPoolEnsemble([r.classifier.model for r in results]).eval(),
        first.tokenizer,
        first.labels,
        device=first.device,
        max_length=config.max_length,
        pooling="mean",
    )
    label_id = {name: i for i, name in enumerate(first.labels)}
    metrics = _final_metrics(
        classifier,
        config,
        first.tokenizer(list(texts), truncation=True, max_length=config.max_length),
        torch.tensor([label_id[label] for label in labels]),
        val_texts,
        val_labels,
        started,
    )
    metrics["members"] = [
        {
            "seed": config.seed + i,
            "best_epoch": r.best_epoch,
            "val_macro_f1": r.metrics.get("macro", {}).get("f1"),
            "val_accuracy": r.metrics.get("accuracy"),
        }
        for i, r in enumerate(results)
    ]
    history = [{"member": i, **h} for i, r in enumerate(results) for h in r.history]
    return TrainResult(
        classifier,
        metrics,
        history,
        results[-1].best_epoch,
        any(r.stopped_early for r in results),
    )


def _staged(
    progress: Callable[[ProgressEvent], None] | None,
    first: int,
    runs: int,
    total_runs: int,
    offset_s: float,
) -> Callable[[ProgressEvent], None] | None:
    """Report a stage made of `runs` fine-tuning runs, starting at run `first` of `total_runs`,
    as part of the whole job (steps, epochs, elapsed and ETA over all runs)."""
    if progress is None:
        return None
    report = progress

    def staged(event: ProgressEvent) -> None:
        per_run_steps, per_run_epochs = event.total_steps / runs, event.epochs / runs
        step = round(first * per_run_steps) + event.step
        total = round(total_runs * per_run_steps)
        elapsed = offset_s + event.elapsed_s
        report(
            replace(
                event,
                epoch=round(first * per_run_epochs) + event.epoch,
                epochs=round(total_runs * per_run_epochs),
                step=step,
                total_steps=total,
                elapsed_s=elapsed,
                eta_s=elapsed / max(1, step) * (total - step),
            )
        )

    return staged


def _fit_distilled(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    config: TrainConfig,
    val_texts: Sequence[str] | None,
    val_labels: Sequence[str] | None,
    base_model: str | Path | None,
    device: str,
    progress: Callable[[ProgressEvent], None] | None,
    should_stop: Callable[[], bool] | None,
) -> TrainResult:
    """An ensemble teacher of `config.distil_from` members, then one student fitted to the
    teacher's probabilities on the training texts, served at one model's cost. (On PhraseBank
    it did not beat a single model: docs/sentiment.md.)"""
    if val_texts is None or val_labels is None:
        texts, labels, val_texts, val_labels, _ = _validation_split(texts, labels, config)
    n_teachers, started = config.distil_from, time.monotonic()
    teacher = fit(
        texts,
        labels,
        config=replace(
            config,
            distil_from=0,
            ensemble=n_teachers,
            neighbours_k=0,
            label_offsets=False,
            seed=config.seed + 1,
        ),
        val_texts=val_texts,
        val_labels=val_labels,
        base_model=base_model,
        device=device,
        progress=_staged(progress, 0, n_teachers, n_teachers + 1, 0.0),
        should_stop=should_stop,
    )
    soft, _ = teacher.classifier.head_proba(texts)
    student = fit(
        texts,
        labels,
        config=replace(config, distil_from=0, ensemble=1),
        val_texts=val_texts,
        val_labels=val_labels,
        base_model=base_model,
        device=device,
        progress=_staged(progress, n_teachers, 1, n_teachers + 1, time.monotonic() - started),
        should_stop=should_stop,
        soft_targets=soft,
    )
    student.metrics["teacher"] = {
        "members": n_teachers,
        "val_macro_f1": teacher.metrics.get("macro", {}).get("f1"),
        "val_accuracy": teacher.metrics.get("accuracy"),
    }
    student.metrics["train_config"] = asdict(config)
    student.metrics["train_seconds"] = round(time.monotonic() - started, 1)
    student.history = [{"stage": "teacher", **h} for h in teacher.history] + [
        {"stage": "student", **h} for h in student.history
    ]
    return student


def _layer_depth(name: str, n_layers: int) -> int:
    """0 for the embeddings, i + 1 for transformer layer i, n_layers for anything above."""
    if ".embeddings." in f".{name}":
        return 0
    marker = ".layer."
    if marker in name:
        return int(name.split(marker, 1)[1].split(".", 1)[0]) + 1
    return n_layers


def _param_groups(model: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and LayerNorm weights, the head's learning-rate
    multiplier, and layer-wise decay below the top layer when `config.layer_lr_decay` < 1."""
    no_decay = ("bias", "LayerNorm.weight")
    head_prefix = "classifier."
    encoder_config = model.config if hasattr(model, "config") else model.encoder.config
    n_layers = int(encoder_config.num_hidden_layers)
    groups: dict[tuple[float, float], list[Any]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.startswith(head_prefix):
            lr = config.learning_rate * config.head_lr_multiplier
        else:
            depth = _layer_depth(name, n_layers)
            lr = config.learning_rate * config.layer_lr_decay ** (n_layers - depth)
        decay = 0.0 if any(x in name for x in no_decay) else config.weight_decay
        groups.setdefault((lr, decay), []).append(param)
    return [
        {"params": params, "lr": lr, "weight_decay": decay}
        for (lr, decay), params in groups.items()
    ]


def _layers_reinit(encoder: Any, n: int) -> None:
    """Give the top `n` transformer layers fresh weights, as BERT initialises them."""
    import torch

    std = float(getattr(encoder.config, "initializer_range", 0.02))
    with torch.no_grad():
        for layer in encoder.encoder.layer[-n:]:
            for module in layer.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.normal_(0.0, std)
                    if module.bias is not None:
                        module.bias.zero_()
                elif isinstance(module, torch.nn.LayerNorm):
                    module.weight.fill_(1.0)
                    module.bias.zero_()


def _batch_loss(
    model: Any, batch: Any, idx: list[int], y: Any, targets: Any, config: TrainConfig
) -> Any:
    """Cross-entropy on hard labels (smoothed) or soft targets, plus the R-Drop term."""
    import torch
    from torch.nn import functional

    def criterion(logits: Any) -> Any:
        if targets is not None:
            return functional.cross_entropy(logits, targets[idx].to(logits.device))
        return functional.cross_entropy(
            logits, y[idx].to(logits.device), label_smoothing=config.label_smoothing
        )

    if not config.rdrop_alpha:
        return criterion(model(**batch).logits)
    doubled = {k: torch.cat([v, v]) for k, v in batch.items()}
    first, second = model(**doubled).logits.chunk(2)
    lp1, lp2 = functional.log_softmax(first, dim=-1), functional.log_softmax(second, dim=-1)
    kl = functional.kl_div(lp1, lp2, log_target=True, reduction="batchmean") + functional.kl_div(
        lp2, lp1, log_target=True, reduction="batchmean"
    )
    return (criterion(first) + criterion(second)) / 2 + config.rdrop_alpha * kl / 2


class _EmbeddingAdversary:
    """FGM: remembers the embedding layer's output in a training pass, then, after the
    backward pass, shifts it by eps times its gradient's direction (per text) for one more."""

    def __init__(self, module: Any, eps: float) -> None:
        self.eps = eps
        self.output: Any = None
        self.delta: Any = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: Any, inputs: Any, output: Any) -> Any:
        if self.delta is not None:
            return output + self.delta
        if module.training and output.requires_grad:
            output.retain_grad()
            self.output = output
        return None

    def perturb(self) -> None:
        grad = self.output.grad if self.output is not None else None
        if grad is None:
            return
        norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *([1] * (grad.dim() - 1)))
        self.delta = (self.eps * grad / norm).detach()
        self.output = None

    def clear(self) -> None:
        self.delta = None

    def remove(self) -> None:
        self.handle.remove()


def fit(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    config: TrainConfig = TrainConfig(),
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[str] | None = None,
    base_model: str | Path | None = None,
    device: str = "auto",
    progress: Callable[[ProgressEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    soft_targets: npt.NDArray[np.float32] | None = None,
) -> TrainResult:
    """Fine-tune a sequence classifier: AdamW, linear warmup/decay, early stopping on macro-F1.

    Without `val_texts` a stratified `config.val_fraction` of the data is held out for
    validation. The returned classifier carries the best epoch's weights. `soft_targets`
    (one row per text, columns in sorted label order) distils a teacher into this model.
    """
    offline()
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    if len(texts) != len(labels) or not texts:
        raise ValueError("need as many labels as texts, and at least one text")
    # Ensembles and distillation are made of single fits; both take fit's own arguments.
    several = (
        _fit_distilled if config.distil_from > 1 else _fit_ensemble if config.ensemble > 1 else None
    )
    if several is not None:
        return several(
            texts,
            labels,
            config=config,
            val_texts=val_texts,
            val_labels=val_labels,
            base_model=base_model,
            device=device,
            progress=progress,
            should_stop=should_stop,
        )
    set_seed(config.seed)
    if soft_targets is not None and soft_targets.shape[0] != len(texts):
        raise ValueError("need one row of soft targets per text")
    if val_texts is None or val_labels is None:
        texts, labels, val_texts, val_labels, soft_targets = _validation_split(
            texts, labels, config, soft_targets
        )
    label_names = sorted(set(labels) | set(val_labels))
    if soft_targets is not None and soft_targets.shape[1] != len(label_names):
        raise ValueError(f"soft targets need {len(label_names)} columns (sorted label order)")
    label_id = {name: i for i, name in enumerate(label_names)}
    dev = resolve_device(device)
    base = str(base_model or base_model_path())
    tokenizer = AutoTokenizer.from_pretrained(base)
    model: Any
    if config.pooling == "mean":
        from transformers import AutoModel

        from .heads import MeanPoolClassifier

        model = MeanPoolClassifier(AutoModel.from_pretrained(base), len(label_names)).to(dev)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id=label_id,
        ).to(dev)

    encoder = model.encoder if config.pooling == "mean" else model.base_model
    if config.freeze_word_embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    if config.reinit_layers:
        _layers_reinit(encoder, config.reinit_layers)
    enc = tokenizer(list(texts), truncation=True, max_length=config.max_length)
    y = torch.tensor([label_id[label] for label in labels])
    targets = None
    if soft_targets is not None:
        onehot = torch.nn.functional.one_hot(y, len(label_names)).float()
        if config.label_smoothing:
            onehot = onehot * (1 - config.label_smoothing) + config.label_smoothing / len(
                label_names
            )
        teacher = torch.as_tensor(np.asarray(soft_targets, dtype=np.float32))
        teacher = teacher / teacher.sum(dim=1, keepdim=True).clamp(min=1e-9)
        targets = (1 - config.distil_weight) * onehot + config.distil_weight * teacher
    lengths = [len(ids) for ids in enc["input_ids"]]
    if config.pooling != "mean" and (config.head_init == "centroids" or config.neighbours_k):
        raise ValueError("centroid head init and neighbours need pooling='mean'")
    if config.head_init == "centroids":
        _head_centroids_init(model, tokenizer, enc, y, len(label_names), dev)
    elif config.head_init != "random":
        raise ValueError(f"unknown head_init {config.head_init!r}")
    n = len(texts)
    pool = config.batch_size * 50
    steps_per_epoch = (
        math.ceil(n / config.batch_size)
        if n < 2 * pool
        else sum(math.ceil(min(pool, n - s) / config.batch_size) for s in range(0, n, pool))
    )
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    groups = _param_groups(model, config)
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(total_steps * config.warmup_ratio), total_steps
    )
    classifier = TextClassifier(
        model,
        tokenizer,
        label_names,
        device=dev,
        max_length=config.max_length,
        pooling=config.pooling,
    )
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, Any]] = []
    best_f1, best_epoch, best_state, bad_epochs = -1.0, 0, None, 0
    recent_states: list[dict[str, Any]] = []
    step, started, stopped_early = 0, time.monotonic(), False

    adversary = (
        _EmbeddingAdversary(encoder.embeddings, config.adversarial_eps)
        if config.adversarial_eps
        else None
    )
    for epoch in range(1, config.epochs + 1):
        model.train()
        batches = length_bucketed_batches(lengths, config.batch_size, generator)
        epoch_loss = 0.0
        for idx in batches:
            if should_stop and should_stop():
                raise TrainingCancelled()
            batch = tokenizer.pad(
                {
                    "input_ids": [enc["input_ids"][i] for i in idx],
                    "attention_mask": [enc["attention_mask"][i] for i in idx],
                    **(
                        {"token_type_ids": [enc["token_type_ids"][i] for i in idx]}
                        if "token_type_ids" in enc
                        else {}
                    ),
                },
                return_tensors="pt",
            ).to(dev)
            loss = _batch_loss(model, batch, idx, y, targets, config)
            loss.backward()
            if adversary is not None:
                adversary.perturb()
                _batch_loss(model, batch, idx, y, targets, config).backward()
                adversary.clear()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            epoch_loss += loss.item()
            if progress:
                elapsed = time.monotonic() - started
                progress(
                    ProgressEvent(
                        epoch,
                        config.epochs,
                        step,
                        total_steps,
                        loss.item(),
                        elapsed,
                        elapsed / step * (total_steps - step),
                    )
                )
            if config.max_steps and step >= config.max_steps:
                break
        model.eval()
        report = classifier.evaluate(val_texts, val_labels) if val_texts else None
        val_f1 = report["macro"]["f1"] if report else 1.0 - epoch_loss
        history.append(
            {
                "epoch": epoch,
                "train_loss": epoch_loss / max(1, steps_per_epoch),
                "val_macro_f1": report["macro"]["f1"] if report else None,
                "val_accuracy": report["accuracy"] if report else None,
            }
        )
        if progress:
            elapsed = time.monotonic() - started
            progress(
                ProgressEvent(
                    epoch,
                    config.epochs,
                    step,
                    total_steps,
                    history[-1]["train_loss"],
                    elapsed,
                    elapsed / step * (total_steps - step),
                    history[-1]["val_macro_f1"],
                    history[-1]["val_accuracy"],
                    phase="epoch",
                )
            )
        if config.average_epochs > 1:
            recent_states = [*recent_states, _state_copy(model)][-config.average_epochs :]
        if val_f1 > best_f1 + 1e-4:
            best_f1, best_epoch, bad_epochs = val_f1, epoch, 0
            best_state = _state_copy(model)
        else:
            bad_epochs += 1
            if bad_epochs >= config.patience:
                stopped_early = True
                break
        if config.max_steps and step >= config.max_steps:
            break

    if adversary is not None:
        adversary.remove()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    averaged = _average_try(classifier, recent_states, best_f1, val_texts, val_labels)
    if not averaged and best_state is not None:
        model.load_state_dict(best_state)
    metrics = _final_metrics(classifier, config, enc, y, val_texts, val_labels, started)
    metrics["averaged_epochs"] = averaged
    return TrainResult(classifier, metrics, history, best_epoch, stopped_early)
