"""The embedder's serving forms: exported once per model into a cache folder, measured there by
mean cosine to the fp32 vectors on a fixed text set and by speed, and reused by every process.

    <cache>/forms/<model key>/onnx-fp32.onnx, onnx-int8.onnx, forms.json

The static int8 form is not offered for the embedder: calibrated on generic text it kept a mean
cosine of only 0.92 to fp32 on PhraseBank sentences (docs/mlops.md), far outside tolerance.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .choice import BF16, FP32, ONNX_FP32, ONNX_INT8, FormMeasure, single_rate
from .onnx_export import encoder_export
from .quantise import int8_dynamic
from .sessions import OnnxRunner

RECORD = "forms.json"
# Bumped when the forms or their measures change (2: fused attention in the ONNX files, and bf16
# on CPUs with native bf16; 3: each form also timed one text at a time, `single_per_s`; 4: the
# forms timed in turns, each keeping its best round; 5: int8 with the attention's query, key and
# value projections in int8, `quantise.attention_unpacked`): a record of another version is
# exported and measured again.
RECORD_VERSION = 5
MEASURE_ROUNDS = 2
EMBEDDER_FORMS = (ONNX_FP32, ONNX_INT8)

_SUBJECTS = (
    "The bank",
    "My card",
    "Quarterly revenue",
    "The customer",
    "Our support team",
    "The new phone",
    "Shipping to Germany",
    "The refund",
)
_PREDICATES = (
    "was declined at the checkout yesterday",
    "rose by eight percent compared with the same period last year",
    "has not arrived although the tracking page says it was delivered",
    "cannot be changed once the transfer has been confirmed",
    "is cheaper when you order two or more items",
    "fell sharply after the company cut its forecast",
    "needs a new PIN before it works abroad",
    "takes three to five working days",
)
# 64 sentences of varied length: the fixed set every form's cosine to fp32 is measured on.
FIXED_TEXTS = tuple(f"{s} {p}." for s, p in itertools.product(_SUBJECTS, _PREDICATES))


def model_key(model_path: str | Path) -> str:
    """A short key of a model's weights (path, size and modification time of its files)."""
    digest = hashlib.sha256()
    root = Path(model_path).resolve()
    digest.update(str(root).encode())
    for file in sorted(root.glob("*")):
        if file.is_file():
            stat = file.stat()
            digest.update(f"{file.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


def forms_dir(cache_root: str | Path, model_path: str | Path) -> Path:
    return Path(cache_root) / "forms" / model_key(model_path)


def forms_ready(cache_root: str | Path, model_path: str | Path) -> bool:
    """Whether a model's forms are exported and measured (one small file read, no export)."""
    return _current(forms_dir(cache_root, model_path) / RECORD)


def _current(record: Path) -> bool:
    try:
        return int(json.loads(record.read_text()).get("version", 1)) == RECORD_VERSION
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _exclusive(folder: Path) -> Iterator[None]:
    """One process exports a model's forms; the others wait and then read what it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _onnx_embed(
    runner: OnnxRunner, tokenizer: Any, texts: Sequence[str], max_length: int
) -> npt.NDArray[np.float32]:
    enc = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="np"
    )
    return runner.run(enc["input_ids"], enc["attention_mask"])["vectors"]


def rates_in_turns(
    embeds: dict[str, Callable[[Sequence[str]], Any]],
    texts: Sequence[str],
    *,
    rounds: int = MEASURE_ROUNDS,
) -> dict[str, tuple[float, float]]:
    """Each form's (batch, one text at a time) rate in texts/s: every round times each form in
    turn, the whole of `texts` in one call and then its first SINGLE_TEXTS one call each, and
    each form keeps its best round. Other work on the cores then slows every form alike, and a
    burst of it costs one round, not one form's whole measure (timed form after form, a record
    once put fp32 torch at 46 texts/s and bf16 at 44 against 338 and 739 on quiet cores)."""
    for embed in embeds.values():
        embed(texts[:8])  # warm-up
    batch = dict.fromkeys(embeds, float("inf"))
    single = dict.fromkeys(embeds, 0.0)
    for _ in range(rounds):
        for form, embed in embeds.items():
            started = time.perf_counter()
            embed(texts)
            batch[form] = min(batch[form], time.perf_counter() - started)
            single[form] = max(single[form], single_rate(embed, texts, rounds=1))
    return {form: (_per_s(len(texts), batch[form]), single[form]) for form in embeds}


def _per_s(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if 0 < seconds < float("inf") else 0.0


def embedder_forms_ensure(
    *,
    model: Any,
    tokenizer: Any,
    model_path: str | Path,
    cache_root: str | Path,
    torch_embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    bf16_embed: Callable[[Sequence[str]], npt.NDArray[np.float32]] | None = None,
    max_length: int = 256,
) -> tuple[Path, list[FormMeasure]]:
    """The embedder's forms folder and their measures, exporting and measuring them once.

    `bf16_embed` (given where the CPU has native bf16) measures the torch bf16 form too."""
    folder = forms_dir(cache_root, model_path)
    record = folder / RECORD
    if _current(record):
        return folder, _read(record)
    with _exclusive(folder):
        if _current(record):  # another process finished while this one waited
            return folder, _read(record)
        fp32_file = encoder_export(model, tokenizer, folder / f"{ONNX_FP32}.onnx", kind="embedder")
        int8_dynamic(fp32_file, folder / f"{ONNX_INT8}.onnx")
        texts = list(FIXED_TEXTS)
        reference = torch_embed(texts)
        embeds: dict[str, Callable[[Sequence[str]], Any]] = {FP32: torch_embed}
        if bf16_embed is not None:
            embeds[BF16] = bf16_embed
        for form in EMBEDDER_FORMS:
            runner = OnnxRunner(folder / f"{form}.onnx")

            def embed(batch: Sequence[str], runner: OnnxRunner = runner) -> Any:
                return _onnx_embed(runner, tokenizer, batch, max_length)

            embeds[form] = embed
        cosines = {
            form: 1.0 if form == FP32 else float(np.mean(np.sum(e(texts) * reference, axis=1)))
            for form, e in embeds.items()
        }
        rates = rates_in_turns(embeds, texts)
        measures = [
            FormMeasure(
                form,
                "cpu",
                round(cosines[form], 5),
                rates[form][0],
                (folder / f"{form}.onnx").stat().st_size if form in EMBEDDER_FORMS else 0,
                single_per_s=rates[form][1],
            )
            for form in embeds
        ]
        _write(record, measures)
    return folder, measures


def _read(record: Path) -> list[FormMeasure]:
    return [FormMeasure.from_dict(m) for m in json.loads(record.read_text())["forms"]]


def _write(record: Path, measures: list[FormMeasure]) -> None:
    fd, tmp = tempfile.mkstemp(dir=record.parent, prefix=".forms-", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {
                "version": RECORD_VERSION,
                "texts": len(FIXED_TEXTS),
                "forms": [m.as_dict() for m in measures],
            },
            fh,
        )
    os.replace(tmp, record)
