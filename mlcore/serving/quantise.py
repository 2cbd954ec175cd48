"""int8 forms of an exported fp32 encoder, by onnxruntime.quantization.

dynamic  weights int8 per output channel, activations quantised on the fly per batch. On
         MiniLM this keeps the mean cosine to fp32 at 0.992 where per-tensor weights gave 0.959
         (1,000 PhraseBank sentences; see docs/mlops.md).
static   QDQ: activations' ranges calibrated beforehand on texts of the model's own validation
         set (MinMax over length-sorted batches), weights int8 per channel.

Only MatMul nodes are quantised: the embeddings' gathers, LayerNorm and softmax stay fp32, which
is where int8 costs transformers their accuracy.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

QUANTISED_OPS = ["MatMul"]


def _atomic(target: Path) -> tuple[Path, Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(dir=target.parent, prefix=".quant-", suffix=".onnx")
    os.close(fd)
    return target, Path(raw)


def int8_dynamic(source: str | Path, target: str | Path, *, per_channel: bool = True) -> Path:
    """The dynamic-int8 form of an fp32 ONNX file."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    final, raw = _atomic(Path(target))
    try:
        quantize_dynamic(
            str(source),
            str(raw),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=QUANTISED_OPS,
        )
        os.replace(raw, final)
    finally:
        raw.unlink(missing_ok=True)
    return final


def calibration_batches(
    tokenizer: Any, texts: Sequence[str], *, max_length: int, batch_size: int = 32
) -> list[dict[str, np.ndarray]]:
    """Model feeds of `texts`, length-sorted batches as the served model sees them."""
    ordered = sorted((t or " " for t in texts), key=len)
    feeds = []
    for start in range(0, len(ordered), batch_size):
        enc = tokenizer(
            ordered[start : start + batch_size],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
        feeds.append(
            {
                "input_ids": enc["input_ids"].astype(np.int64),
                "attention_mask": enc["attention_mask"].astype(np.int64),
            }
        )
    return feeds


def int8_static(
    source: str | Path,
    target: str | Path,
    feeds: Sequence[dict[str, np.ndarray]],
    *,
    per_channel: bool = True,
) -> Path:
    """The static-int8 (QDQ) form of an fp32 ONNX file, calibrated on `feeds`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not feeds:
        raise ValueError("static int8 needs calibration texts (the version's validation texts)")

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._feeds, None)

    final, raw = _atomic(Path(target))
    try:
        quantize_static(
            str(source),
            str(raw),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=QUANTISED_OPS,
            calibrate_method=CalibrationMethod.MinMax,
        )
        os.replace(raw, final)
    finally:
        raw.unlink(missing_ok=True)
        for leftover in final.parent.glob(raw.stem + "*"):  # augmented calibration models
            leftover.unlink(missing_ok=True)
    return final
