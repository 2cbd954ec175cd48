"""Helpers shared by the recommender tests."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rest_framework.test import APIClient


def words_embed(texts: list[str]) -> np.ndarray:
    """Hashed bag of words, unit rows: texts sharing words are similar."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z]{3,}", text.lower()):
            digest = int(hashlib.md5(word.encode()).hexdigest(), 16)
            # Signed feature hashing: colliding words cancel out instead of looking alike.
            out[row, digest % 384] += 1.0 if (digest >> 100) & 1 else -1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


CATALOG = [
    ("TENT-1", "Ridgeline two person backpacking tent", "Outdoor", "tent camping shelter rain fly"),
    ("TENT-2", "Summit ultralight solo tent", "Outdoor", "tent camping shelter ultralight"),
    ("BAG-1", "Down sleeping bag", "Outdoor", "sleeping bag camping warm down"),
    ("PAD-1", "Insulated sleeping pad", "Outdoor", "sleeping pad camping insulated"),
    ("LAMP-1", "Rechargeable headlamp", "Outdoor", "headlamp camping light"),
    ("KNIFE-1", "Chef knife steel", "Kitchen", "knife kitchen steel chopping"),
    ("BOARD-1", "Oak cutting board", "Kitchen", "cutting board kitchen wood chopping"),
    ("PAN-1", "Cast iron skillet", "Kitchen", "skillet kitchen cast iron sear"),
    ("KETTLE-1", "Gooseneck kettle", "Kitchen", "kettle coffee pour over kitchen"),
    ("GRIND-1", "Burr coffee grinder", "Kitchen", "coffee grinder burr kitchen"),
    ("BOOK-1", "Mystery novel lighthouse", "Books", "mystery novel fiction detective"),
    ("BOOK-2", "Science fiction novel", "Books", "science fiction novel space"),
]


def record(
    shopper: Any, kind: str, item: Any, n: int | str, source: str = "storefront", **extra: Any
) -> Any:
    """One event as the storefront server records it (purchases count only from there)."""
    from apps.recommender import services

    return services.events_record(
        shopper=shopper,
        events=[{"event_id": f"{shopper.key}-{n}", "kind": kind, "item": item.pk, **extra}],
        source=source,
    )


def api_as(user: Any) -> APIClient:
    """An API client signed in as `user` (session-less, as a script would call)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
