"""The dynamic-int8 serving form: which torch quantized engine serves it, and the conversion.

The conversion is guarded as the ONNX int8 forms are (mlcore.serving.quantise.int8_guarded):
where more than 2% of the validation labels change under int8, the feed-forward output
projections, which GELU feeds with outlier channels one int8 scale cannot hold, stay fp32.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..serving.quantise import MIN_AGREEMENT

# The int8 form is rebuilt from the fp32 safetensors at every load (dynamic quantisation takes
# well under a second), so no pickled weights are ever read; this file only records that the form
# was derived and measured. Versions from before it may still hold a `quantized_int8.pt`: it is
# never loaded (torch.load of an archive's pickle would run whatever the archive put in it).
QUANTIZED_FILE = "int8.json"
LEGACY_QUANTIZED_FILE = "quantized_int8.pt"


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


def ffn_out_names(model: Any) -> list[str]:
    """Names of the feed-forward output projections of a transformer encoder: the linear layers
    that narrow the widest inner width back to the hidden size (fed by GELU), one per layer."""
    import torch

    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    widest = max((m.in_features for _, m in linears), default=0)
    return [n for n, m in linears if m.in_features == widest and m.out_features < widest]


def quantize_dynamic(model: Any, *, keep_fp32: Sequence[str] = ()) -> Any:
    """The model with its linear layers in dynamic int8 (under the engine chosen above), but
    those named in `keep_fp32`."""
    import torch

    int8_engine_select()
    if not keep_fp32:
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    kept = set(keep_fp32)
    names = {
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n not in kept
    }
    return torch.ao.quantization.quantize_dynamic(model, names, dtype=torch.qint8)


def quantize_guarded(
    model: Any, labels_of: Callable[[Any], Sequence[int]]
) -> tuple[Any, list[str], float]:
    """(int8 model, the layers it left fp32, share of `labels_of` labels it keeps): every linear
    layer in int8 first; where under MIN_AGREEMENT of the fp32 model's labels survive, again with
    the feed-forward output projections in fp32. `labels_of(m)` is m's label per validation text."""
    reference = list(labels_of(model))

    def agreement(candidate: Any) -> float:
        labels = list(labels_of(candidate))
        return sum(a == b for a, b in zip(reference, labels)) / len(reference) if reference else 1.0

    quantized = quantize_dynamic(model)
    share = agreement(quantized)
    if share >= MIN_AGREEMENT:
        return quantized, [], share
    keep = ffn_out_names(model)
    quantized = quantize_dynamic(model, keep_fp32=keep)
    return quantized, keep, agreement(quantized)


def int8_kept(path: Path) -> list[str]:
    """The linear layers the int8 form leaves fp32, as `int8_form_save` recorded them."""
    record = path / QUANTIZED_FILE
    return (
        [str(n) for n in json.loads(record.read_text()).get("keep_fp32", [])]
        if record.is_file()
        else []
    )
