"""The dynamic-int8 serving form: which torch quantized engine serves it, and the conversion."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

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


def quantize_dynamic(model: Any) -> Any:
    """The model with its linear layers in dynamic int8 (under the engine chosen above)."""
    import torch

    int8_engine_select()
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
