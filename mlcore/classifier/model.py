"""The fine-tuned text classifier as it is served: load, save, predict, and its serving forms."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..base_models import offline
from ..config import resolve_device
from ..metrics import classification_report
from ..passes import length_passes
from ..serving.choice import (
    AUTO,
    BF16,
    FP16,
    FP32,
    ONNX_FORMS,
    TORCH_INT8,
    form_auto,
    form_check,
)
from ..serving.device import bf16_dtype, cuda_available, half_dtype, model_batch_size
from ..serving.sessions import OnnxRunner
from ..types import Prediction
from .quantization import int8_kept, quantize_dynamic

SERVING_FILE = "serving.json"
NEIGHBOURS_FILE = "neighbours.npz"
FORMS_DIR = "forms"


DEFAULT_BATCH = 64


def form_file(path: str | Path, form: str) -> Path:
    """Where an ONNX serving form of the classifier saved at `path` lives."""
    return Path(path) / FORMS_DIR / f"{form_check(form)}.onnx"


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
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        self.model = model
        # Texts per forward pass when a call names none: DEFAULT_BATCH on the CPU, sized by
        # free memory on a GPU (`load`).
        self.batch_size = batch_size
        # Per-label log-probability offsets. Training no longer chooses them (the option lost
        # in the benches and was removed), but versions trained with it carry them in
        # serving.json, and they keep predicting as they did.
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
        """Load a saved classifier in a serving form (default: what was saved as serving).

        Forms (mlcore.serving.choice): 'fp32' and 'int8' (torch's dynamic int8, CPU) from the
        safetensors; 'onnx-fp32', 'onnx-int8', 'onnx-int8s' from `forms/<form>.onnx` (exported
        by `mlcore.classifier.forms`); 'fp16' on CUDA (bf16 where the GPU has it); 'bf16' torch
        on the CPU; 'auto', the fastest form measured on this device within tolerance.
        """
        offline()
        from transformers import AutoTokenizer

        path = Path(path)
        serving_file = path / SERVING_FILE
        info = json.loads(serving_file.read_text()) if serving_file.exists() else {}
        form = serving or info.get("serving", FP32)
        dev = resolve_device(device)
        if form == AUTO:  # each device its fastest form within tolerance (forms.json)
            form = form_auto(path, "cuda" if dev.startswith("cuda") else "cpu")
        form_check(form)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        pooling = info.get("pooling", "cls")
        model: Any
        if form in ONNX_FORMS:
            onnx_path = form_file(path, form)
            if not onnx_path.is_file():
                raise ValueError(f"{path.name} has no {form} form: export its forms first")
            model, labels, dev = OnnxRunner(onnx_path, device="cpu"), _labels(path, info), "cpu"
        else:
            model, labels = _torch_model(path, info, pooling)
            if form == FP16:
                if not dev.startswith("cuda") or not cuda_available():
                    raise ValueError("the fp16 form serves on CUDA only")
                model = model.to(half_dtype())
            if form == TORCH_INT8:  # from the fp32 weights just loaded, as int8_form_save chose
                model = quantize_dynamic(model, keep_fp32=int8_kept(path))
                dev = "cpu"  # dynamic int8 kernels are CPU kernels
            if form == BF16:  # oneDNN's bf16 kernels: a CPU form
                model, dev = model.to(bf16_dtype()), "cpu"
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
            batch_size=model_batch_size(
                model,
                device=dev,
                default=DEFAULT_BATCH,
                max_length=int(info.get("max_length", 128)),
            ),
        )

    def save(self, path: str | Path) -> Path:
        """Save weights, tokenizer and serving info into a directory (replaced atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self.serving != FP32:
            raise ValueError("save the fp32 classifier; the other forms are derived from it")
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
        self, texts: Sequence[str], *, batch_size: int | None = None
    ) -> npt.NDArray[np.float32]:
        """(n, n_labels) probabilities in the order of `self.labels`."""
        batch_size = batch_size or self.batch_size
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
        self, texts: Sequence[str], *, batch_size: int | None = None, pooled: bool = False
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """The head's probabilities, and (with `pooled`) the texts' unit sentence vectors."""
        import torch

        batch_size = batch_size or self.batch_size
        n_labels = len(self.labels)
        if len(texts) == 0:
            return np.zeros((0, n_labels), dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
        if isinstance(self.model, OnnxRunner):
            return self._onnx_proba(texts, batch_size=batch_size, pooled=pooled)
        out = np.empty((len(texts), n_labels), dtype=np.float32)
        vectors: npt.NDArray[np.float32] | None = None
        with self._lock, torch.inference_mode():
            for idx, input_ids, mask in self._passes(texts, batch_size):
                result = self.model(
                    input_ids=torch.from_numpy(input_ids).to(self.device),
                    attention_mask=torch.from_numpy(mask).to(self.device),
                )
                out[idx] = torch.softmax(result.logits.float(), dim=-1).cpu().numpy()
                if pooled:
                    unit = torch.nn.functional.normalize(result.pooled.float(), dim=-1)
                    if vectors is None:
                        vectors = np.empty((len(texts), unit.shape[1]), dtype=np.float32)
                    vectors[idx] = unit.cpu().numpy()
        return out, vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)

    def _onnx_proba(
        self, texts: Sequence[str], *, batch_size: int, pooled: bool
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """head_proba through an ONNX Runtime form (no lock: sessions run concurrently)."""
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        vectors: npt.NDArray[np.float32] | None = None
        for idx, input_ids, mask in self._passes(texts, batch_size):
            result = self.model.run(input_ids, mask)
            logits = result["logits"]
            exp = np.exp(logits - logits.max(axis=1, keepdims=True))
            out[idx] = exp / exp.sum(axis=1, keepdims=True)
            if pooled:
                unit = result["pooled"]
                unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
                if vectors is None:
                    vectors = np.empty((len(texts), unit.shape[1]), dtype=np.float32)
                vectors[idx] = unit
        return out, vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)

    def _passes(self, texts: Sequence[str], batch_size: int) -> list[tuple[list[int], Any, Any]]:
        return length_passes(
            self.tokenizer, texts, max_length=self.max_length, batch_size=batch_size
        )

    def predict(self, texts: Sequence[str], *, batch_size: int | None = None) -> list[Prediction]:
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


def serving_form_set(path: str | Path, form: str) -> None:
    """Record which form (mlcore.serving.choice.FORMS, or 'auto') `TextClassifier.load` uses by
    default."""
    if form != AUTO:
        form_check(form)
    path = Path(path)
    info = json.loads((path / SERVING_FILE).read_text())
    info["serving"] = form
    tmp = path / (SERVING_FILE + ".tmp")
    tmp.write_text(json.dumps(info))
    tmp.rename(path / SERVING_FILE)


def _labels(path: Path, info: dict[str, Any]) -> list[str]:
    """The label names in output order: serving.json's, else the Hugging Face config's."""
    if info.get("labels"):
        return [str(label) for label in info["labels"]]
    config = json.loads((path / "config.json").read_text())
    id2label = config["id2label"]
    return [str(id2label[str(i)]) for i in range(len(id2label))]


def _torch_model(path: Path, info: dict[str, Any], pooling: str) -> tuple[Any, list[str]]:
    """The fp32 torch model saved at `path`, and its label names."""
    from transformers import AutoModelForSequenceClassification

    model: Any
    if pooling == "mean":
        # heavy: the heads module imports torch
        from ..heads import MeanPoolClassifier, MeanPoolEnsemble

        labels = list(info["labels"])
        if int(info.get("members", 1)) > 1:
            model = MeanPoolEnsemble.from_pretrained(str(path), len(labels), int(info["members"]))
        else:
            model = MeanPoolClassifier.from_pretrained(str(path), len(labels))
        return model, labels
    # safetensors only: a pytorch_model.bin is a pickle and is refused.
    model = AutoModelForSequenceClassification.from_pretrained(str(path), use_safetensors=True)
    return model, [model.config.id2label[i] for i in range(model.config.num_labels)]
