"""The kinds of model the suite trains and serves; each app registers its own in ready()."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainingContext:
    """What a kind's train function gets: parameters, a scratch folder, and reporting hooks."""

    run_id: int | None
    params: dict[str, Any]
    workdir: Path
    progress: Callable[[dict[str, Any]], None] = lambda _event: None
    should_stop: Callable[[], bool] = lambda: False
    log: Callable[[str], None] = print


@dataclass
class TrainOutcome:
    """What a kind's train function returns: a folder of artifacts and its evaluation."""

    artifact_dir: Path
    metrics: dict[str, Any]
    data_hash: str = ""
    data_size: int = 0
    label_distribution: dict[str, int] = field(default_factory=dict)
    base_model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    after_register: Callable[[int], None] | None = None


@dataclass(frozen=True)
class ModelKind:
    name: str
    title: str
    loader: Callable[[Path], Any]
    main_metric: str
    tolerance: float = 0.005
    higher_is_better: bool = True
    train: Callable[[TrainingContext], TrainOutcome] | None = None
    warm: bool = True


_kinds: dict[str, ModelKind] = {}
_lock = threading.Lock()


def kind_register(kind: ModelKind) -> None:
    with _lock:
        _kinds[kind.name] = kind


def kind_get(name: str) -> ModelKind:
    try:
        return _kinds[name]
    except KeyError:
        raise KeyError(f"no model kind named {name!r}; known: {sorted(_kinds)}") from None


def kind_list() -> list[ModelKind]:
    return sorted(_kinds.values(), key=lambda k: k.name)
