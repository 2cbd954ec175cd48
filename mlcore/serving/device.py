"""The accelerator boundary: whether CUDA is there, which half precision it serves, how much
fits in a batch. Every GPU branch in mlcore asks `cuda_available()`, so a test on a CPU-only
machine replaces that one function and runs the real branch logic."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def cuda_available() -> bool:
    """True when torch sees a CUDA device (the only device check the GPU branches make)."""
    import torch

    return bool(torch.cuda.is_available())


def gpu_name() -> str:
    """The GPU's name, or '' on a machine without one."""
    if not cuda_available():
        return ""
    import torch

    return str(torch.cuda.get_device_name(0))


def half_dtype() -> Any:
    """bf16 where the GPU supports it (Ampere and newer), else fp16; None without CUDA."""
    if not cuda_available():
        return None
    import torch

    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@functools.lru_cache(maxsize=8)
def cpu_bf16_native(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when this CPU multiplies bf16 matrices natively (the AMX or AVX-512 BF16 flags);
    elsewhere bf16 is emulated and slower than fp32, so the CPU's bf16 form is neither offered
    nor measured. Read once per process (every embedder and forms measure asks)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def bf16_dtype() -> Any:
    import torch

    return torch.bfloat16


def free_memory_bytes() -> int:
    """Free memory of the current CUDA device (0 without one)."""
    if not cuda_available():
        return 0
    import torch

    free, _total = torch.cuda.mem_get_info()
    return int(free)


def batch_size_for_memory(
    *,
    default: int,
    bytes_per_text: int,
    free_bytes: int | None = None,
    share: float = 0.5,
    ceiling: int = 4096,
) -> int:
    """Batch size for a device: `default` on the CPU; on a GPU as many texts as fit in `share`
    of its free memory (at `bytes_per_text` each), a power of two between `default` and
    `ceiling`."""
    if not cuda_available():
        return default
    free = free_memory_bytes() if free_bytes is None else free_bytes
    fits = int(free * share) // max(1, bytes_per_text)
    size = default
    while size * 2 <= min(fits, ceiling):
        size *= 2
    return size


def activation_bytes(hidden_size: int, layers: int, max_length: int) -> int:
    """A rough upper bound of one text's activations in a half-precision forward pass."""
    # Per layer: hidden states, the feed-forward's 4x expansion and attention scores (12 heads).
    per_layer = max_length * (hidden_size * 6 + max_length * 12)
    return 2 * per_layer * max(1, layers)


def model_batch_size(model: Any, *, device: str, default: int, max_length: int) -> int:
    """Inference batch size for a transformer `model` served on `device`: `default` on the CPU,
    on CUDA as many texts as fit in half the free memory (`batch_size_for_memory`), sized from
    the model's own config (hidden size, layers) and its parameters' precision."""
    if not device.startswith("cuda") or not cuda_available():
        return default
    config = _config_of(model)
    if config is None:
        return default
    per_text = activation_bytes(
        int(getattr(config, "hidden_size", 768)),
        int(getattr(config, "num_hidden_layers", 12)),
        max_length,
    )
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    if param is not None and param.element_size() > 2:
        per_text *= 2  # fp32 activations: twice the half-precision bound
    return batch_size_for_memory(default=default, bytes_per_text=per_text)


def _config_of(model: Any) -> Any:
    config = getattr(model, "config", None)
    if config is not None or not hasattr(model, "modules"):
        return config
    for child in model.modules():
        if getattr(child, "config", None) is not None:
            return child.config
    return None


TRAIN_PRECISIONS = ("auto", "fp32")


def training_precision(device: str, precision: str = "auto") -> str:
    """What fine-tuning computes in on `device`: 'bf16' mixed precision where the device
    multiplies bf16 natively (a CUDA GPU with bf16; a CPU with AMX or AVX-512 BF16) and
    `precision` is 'auto'; 'fp32' elsewhere, or when `precision` is 'fp32'.

    The weights, gradients and optimiser state stay fp32 either way: autocast runs the matrix
    products in bf16 only. fp16 is never used for training (it would need a gradient scaler)."""
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"precision must be one of {TRAIN_PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return "fp32"
    if device.startswith("cuda"):
        if not cuda_available():
            return "fp32"
        import torch

        return "bf16" if half_dtype() is torch.bfloat16 else "fp32"
    return "bf16" if cpu_bf16_native() else "fp32"


@contextlib.contextmanager
def autocast(device: str, *, training: bool = False, precision: str = "auto") -> Iterator[None]:
    """Mixed precision where it pays.

    In training (`training_precision`): bf16 on a CUDA GPU with bf16 and on a CPU with native
    bf16, fp32 elsewhere. In inference: `half_dtype` on CUDA, nothing on the CPU (the CPU's bf16
    serving form casts the weights instead).
    """
    import torch

    if training:
        if training_precision(device, precision) != "bf16":
            yield
            return
        kind = "cuda" if device.startswith("cuda") else "cpu"
        with torch.autocast(device_type=kind, dtype=torch.bfloat16):
            yield
        return
    if not device.startswith("cuda") or not cuda_available():
        yield
        return
    with torch.autocast(device_type="cuda", dtype=half_dtype()):
        yield
