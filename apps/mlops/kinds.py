"""The kinds of model the suite trains and serves; each app registers its own in ready()."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ParamType = Literal["int", "float", "bool", "str", "choice", "ids"]


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
class ParamSpec:
    """One training parameter a kind accepts: the run forms and the API are built from these.

    `default` is what the train function uses when the parameter is left out (None: it decides,
    e.g. from the size of the data). Bounds are inclusive unless marked exclusive. `choices`
    (for "choice" and "ids") is called on each use, so rows created since start-up are offered.
    An "ids" parameter whose default is "all" also takes "all" (every row, also later ones) and
    "none". Advanced parameters are shown folded away on the page. A `server_files` parameter
    ("str") names files on the server, separated by commas: from the pages and the API each must
    lie in ML_TRAINING_FILES_DIR (the command line, the server's own operator, may name any).
    """

    name: str
    type: ParamType
    default: Any = None
    help: str = ""
    label: str = ""
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False
    maximum_exclusive: bool = False
    choices: Callable[[], list[tuple[Any, str]]] | None = None
    advanced: bool = False
    server_files: bool = False

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


# The cap on training steps every fine-tuning kind offers (a quick trial run of a recipe).
MAX_STEPS_SPEC = ParamSpec(
    "max_steps",
    "int",
    None,
    "Stop after this many steps (empty: no cap).",
    minimum=1,
    advanced=True,
)


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
    # The parameters `train` understands; None: not described, any JSON object is passed on.
    params: tuple[ParamSpec, ...] | None = None
    # Metrics of an artifact folder on this server's own held-out data, for versions trained
    # elsewhere (imported); None: classifiers are scored on the held-out rows of the newest
    # version trained here (apps/mlops/evaluation.py), other kinds cannot pass the gate.
    evaluate: Callable[[Path], dict[str, Any]] | None = None
    # Called with the version number after a version of this kind became production (a
    # promotion, an override or a rollback, whatever started it), once the change is committed:
    # what the owning app derives from the production model (a calibration) follows it.
    on_production: Callable[[int], None] | None = None
    # The kind's own promotion rule over a candidate's metrics, in place of "not worse than
    # production's main metric": a message refuses it, None lets it through. Adapted bases
    # use it: each version carries its own side-by-side evaluation against the base it would
    # replace (apps/mlops/adaptation.py).
    gate: Callable[[dict[str, Any]], str | None] | None = None
    # What the suite does while no version exists yet, completing "Until then ...": pages
    # say it while the first version trains (the demo trains its models after serving).
    untrained: str = ""


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
