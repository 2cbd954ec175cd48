"""Forward passes of texts grouped by token length, so each pass pads little."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
# A text joins a forward pass while the pass's longest text is at most this many times its
# length (+2 tokens): short chat questions padded to the longest of 32 cost 2.8x as much CPU
# per text as the same questions grouped by length (docs/serving.md).
PAD_SLACK = 1.3


def length_groups(
    lengths: Sequence[int], batch_size: int, slack: float = PAD_SLACK
) -> list[list[int]]:
    """Indices of texts grouped into forward passes: longest first, at most `batch_size` a
    group, and no text padded to more than `slack` times its length (+2 tokens)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (len(current) >= batch_size or lengths[current[0]] > slack * lengths[i] + 2):
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


def padded(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[IntArray, IntArray]:
    """(input_ids, attention_mask) of token id lists, right-padded to the longest."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = x
        mask[row, : len(x)] = 1
    return input_ids, mask


def length_passes(
    tokenizer: Any, texts: Sequence[str], *, max_length: int, batch_size: int
) -> list[tuple[list[int], IntArray, IntArray]]:
    """Forward passes of texts of similar token length: (indices, input_ids, attention_mask).
    A batch padded to its longest text cost up to 2.8x the CPU per text (length_groups)."""
    ids = tokenizer([t or " " for t in texts], truncation=True, max_length=max_length)["input_ids"]
    pad_id = int(tokenizer.pad_token_id or 0)
    return [
        (group, *padded([ids[i] for i in group], pad_id))
        for group in length_groups([len(x) for x in ids], batch_size)
    ]
