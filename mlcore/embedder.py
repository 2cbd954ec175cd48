"""Sentence embeddings from the packaged all-MiniLM-L6-v2, loaded offline."""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .base_models import base_model_path, cache_dir, offline
from .config import resolve_device
from .passes import IntArray, length_passes
from .serving.choice import (
    BATCH_DEPENDENT_FORMS,
    BF16,
    DEFAULT_TOLERANCE,
    FP16,
    FP32,
    FormMeasure,
    form_check,
    form_fastest,
)
from .serving.device import bf16_dtype, cpu_bf16_native, half_dtype, model_batch_size
from .serving.embedder_forms import EMBEDDER_FORMS, embedder_forms_ensure, forms_ready
from .serving.sessions import OnnxRunner

FloatArray = npt.NDArray[np.float32]
# ML_EMBED_FORMS_EXPORT=later: an automatic form whose forms are not exported yet serves fp32
# torch instead of exporting them first (20 s on 2 idle cores, 90 s on busy ones), and
# switches to the fastest form once another process has exported them (bin/demo: the
# background trainer does).
FORMS_EXPORT_ENV = "ML_EMBED_FORMS_EXPORT"
FORMS_RECHECK_SECONDS = 30.0
# A call of at least this many texts is bulk work (indexing articles or a catalogue, backfills)
# and runs in the form fastest in batches; fewer texts (a question, a micro-batch of asks) run
# in the form fastest one text at a time. On some CPUs they differ: bf16 torch wins batches
# and ONNX Runtime single texts (docs/serving.md).
BULK_MIN_TEXTS = 16

log = logging.getLogger(__name__)


class Embedder:
    """Batched, L2-normalised float32 sentence embeddings on CPU or CUDA, in a serving form.

    `form` 'auto' (the default, or ML_EMBED_FORM when set): on CUDA the half-precision form
    with a batch size chosen by free memory; on the CPU the fastest forms whose mean cosine to
    fp32 on a fixed text set is within `tolerance` and whose vectors do not depend on the other
    texts of their batch (dynamic int8 is left out; exported once into ML_BASE_CACHE/forms and
    reused): `form` for calls of a few texts (fastest one text at a time) and `bulk_form` for
    calls of BULK_MIN_TEXTS or more (fastest in batches). 'fp32', 'onnx-fp32', 'onnx-int8',
    'bf16' and 'fp16' name one form for every call.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: str = "auto",
        batch_size: int = 64,
        max_length: int = 256,
        form: str = "auto",
        tolerance: float = DEFAULT_TOLERANCE,
    ) -> None:
        offline()
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.model_path = Path(model_path) if model_path else base_model_path()
        self.device = resolve_device(device)
        self.batch_size = batch_size
        self.max_length = max_length
        self._torch = torch
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(self.model_path))
        self.model: Any = AutoModel.from_pretrained(str(self.model_path), use_safetensors=True)
        self.model = self.model.to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        self._lock = threading.Lock()
        self._runners: dict[str, OnnxRunner] = {}
        self._bf16_copy: Any = None
        # Set while an automatic form waits for another process to export the forms.
        self._awaiting_forms: float | None = None
        self._forms_checked_at = 0.0
        self.form, self.bulk_form = self._form_choose(
            os.environ.get("ML_EMBED_FORM", "auto") if form == "auto" else form, tolerance
        )

    def _form_choose(self, form: str, tolerance: float) -> tuple[str, str]:
        on_gpu = self.device.startswith("cuda")
        if form == "auto" and not on_gpu:
            forms = self._fastest_cpu_forms(tolerance)
            self._cpu_forms_apply(forms)
            return forms
        form = FP16 if form == "auto" else form_check(form)
        if form == FP16:
            if not on_gpu:
                raise ValueError("the fp16 form serves on CUDA only")
            self.model = self.model.to(half_dtype())
        elif form in (BF16, *EMBEDDER_FORMS):
            if on_gpu and form == BF16:
                raise ValueError("the bf16 form serves on the CPU only")
            self._cpu_forms_apply((form, form))
        elif form != FP32:
            raise ValueError(f"the embedder has no {form} form")
        if on_gpu and form in (FP16, FP32):  # torch on CUDA: a batch as large as memory holds
            self.batch_size = model_batch_size(
                self.model, device=self.device, default=self.batch_size, max_length=self.max_length
            )
        return form, form

    def _cpu_forms_apply(self, forms: tuple[str, str]) -> None:
        """Serve CPU forms: an ONNX Runtime session each, and the torch weights in bf16 when one
        of them is bf16 (at most one torch form: _fastest_cpu_forms)."""
        if set(forms) == {FP32}:
            return
        folder, _ = self._forms()  # exported and measured while the weights are still fp32
        for form in set(forms):
            if form == BF16:
                self.model = self.model.to(bf16_dtype())
            elif form in EMBEDDER_FORMS:
                self._runners[form] = OnnxRunner(folder / f"{form}.onnx", device="cpu")

    def _forms(self) -> tuple[Path, Any]:
        try:
            return embedder_forms_ensure(
                model=self.model,
                tokenizer=self.tokenizer,
                model_path=self.model_path,
                cache_root=cache_dir(),
                torch_embed=self._torch_embed,
                bf16_embed=self._bf16_embed if cpu_bf16_native() else None,
                max_length=self.max_length,
            )
        finally:
            self._bf16_copy = None

    def _bf16_embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed with a bf16 copy of the weights (to measure the bf16 form; dropped after)."""
        if self._bf16_copy is None:
            self._bf16_copy = copy.deepcopy(self.model).to(bf16_dtype())
        return self._torch_embed(texts, model=self._bf16_copy)

    def forms_export(self) -> list[FormMeasure]:
        """Export and measure this model's CPU serving forms now, unless they already are."""
        _, measures = self._forms()
        return measures

    def _fastest_cpu_forms(self, tolerance: float) -> tuple[str, str]:
        """(the form for calls of a few texts, the form for bulk calls)."""
        if os.environ.get(FORMS_EXPORT_ENV, "now") == "later" and not forms_ready(
            cache_dir(), self.model_path
        ):
            log.info("embedder forms not exported yet; serving fp32 torch until they are")
            self._awaiting_forms = tolerance
            self._forms_checked_at = time.monotonic()
            return FP32, FP32
        try:
            _, measures = self._forms()
        except Exception:  # an export that fails must not stop the embedder: fp32 serves
            log.warning("embedder forms unavailable; serving fp32 torch", exc_info=True)
            return FP32, FP32

        def fastest(rate: str) -> str:
            return form_fastest(
                measures,
                device="cpu",
                baseline=1.0,
                tolerance=tolerance,
                exclude=BATCH_DEPENDENT_FORMS,
                rate=rate,
            )

        single, bulk = fastest("single"), fastest("batch")
        if single != bulk and single not in EMBEDDER_FORMS and bulk not in EMBEDDER_FORMS:
            # fp32 and bf16 torch would need two copies of the weights: one form serves both.
            single = bulk = fastest("serving")
        return single, bulk

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts; returns an (n, dim) float32 array of unit vectors."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._awaiting_forms is not None:
            self._forms_recheck()
        form = self.bulk_form if len(texts) >= BULK_MIN_TEXTS else self.form
        runner = self._runners.get(form)
        if runner is None:
            return self._torch_embed(texts)
        # Group by length so each pass pads little; restore the caller's order at the end.
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for idx, input_ids, mask in self._passes(texts):  # sessions run concurrently
            vectors = runner.run(input_ids, mask)["vectors"]
            norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[idx] = vectors / norms
        return out

    def _forms_recheck(self) -> None:
        """Switch from the interim fp32 to the fastest forms once the forms are exported."""
        tolerance = self._awaiting_forms
        now = time.monotonic()
        if tolerance is None or now - self._forms_checked_at < FORMS_RECHECK_SECONDS:
            return
        self._forms_checked_at = now
        if not forms_ready(cache_dir(), self.model_path):
            return
        with self._lock:  # no torch pass is running while the forms change
            if self._awaiting_forms is None:
                return
            self._awaiting_forms = None
            forms = self._fastest_cpu_forms(tolerance)
            self._cpu_forms_apply(forms)
            self.form, self.bulk_form = forms
        log.info("embedder forms exported; serving %s (bulk: %s)", *forms)

    def _passes(self, texts: Sequence[str]) -> list[tuple[list[int], IntArray, IntArray]]:
        return length_passes(
            self.tokenizer, texts, max_length=self.max_length, batch_size=self.batch_size
        )

    def _torch_embed(self, texts: Sequence[str], model: Any = None) -> FloatArray:
        torch = self._torch
        model = self.model if model is None else model
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock, torch.inference_mode():
            for idx, input_ids, mask in self._passes(texts):
                batch = {
                    "input_ids": torch.from_numpy(input_ids).to(self.device),
                    "attention_mask": torch.from_numpy(mask).to(self.device),
                }
                hidden = model(**batch).last_hidden_state.float()  # pool in fp32
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                out[idx] = pooled.cpu().numpy()
        return out

    def embed_one(self, text: str) -> FloatArray:
        return self.embed([text])[0]


_shared: dict[tuple[str, str, str], Embedder] = {}
_shared_lock = threading.Lock()


def forms_exported(model_path: str | Path | None = None) -> bool:
    """Whether a model's CPU serving forms (the packaged MiniLM's by default) are exported and
    measured on this machine; reads one small file, loads no model."""
    return forms_ready(cache_dir(), Path(model_path) if model_path else base_model_path())


def shared_embedder(
    model_path: str | Path | None = None, *, device: str = "auto", form: str = "auto"
) -> Embedder:
    """One Embedder per process (per model path, device and form)."""
    key = (str(model_path or ""), device, form)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Embedder(model_path, device=device, form=form)
        return _shared[key]
