"""ONNX Runtime sessions of an exported encoder: one per form file, sized to the process's
torch thread count so an ONNX form and the torch form it replaces use the same cores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .device import cuda_available


def providers_for(device: str) -> list[str]:
    """CUDA first on a GPU device when this onnxruntime build has it; always the CPU last."""
    import onnxruntime as ort

    wanted = ["CPUExecutionProvider"]
    on_gpu = device.startswith("cuda") and cuda_available()
    if on_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        wanted.insert(0, "CUDAExecutionProvider")
    return wanted


class OnnxRunner:
    """Runs one exported encoder: (input_ids, attention_mask) -> its named float32 outputs."""

    def __init__(self, path: str | Path, *, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        if threads is None:
            import torch

            threads = int(torch.get_num_threads())
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's intra-op threads spin after each run by default, waiting for the next;
        # in a server whose model threads take turns with the request threads, that spinning
        # doubled a question's CPU (bench/RESULTS.md, "Thread spinning in the web process").
        spin = "1" if os.environ.get("ML_ORT_SPIN", "0") == "1" else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        self.path = Path(path)
        self.session: Any = ort.InferenceSession(
            str(self.path), options, providers=providers_for(device)
        )
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(
        self, input_ids: npt.NDArray[Any], attention_mask: npt.NDArray[Any]
    ) -> dict[str, npt.NDArray[np.float32]]:
        feeds = {
            "input_ids": np.asarray(input_ids, dtype=np.int64),
            "attention_mask": np.asarray(attention_mask, dtype=np.int64),
        }
        outputs = self.session.run(self.output_names, feeds)
        return {
            name: np.asarray(value, dtype=np.float32)
            for name, value in zip(self.output_names, outputs, strict=True)
        }
