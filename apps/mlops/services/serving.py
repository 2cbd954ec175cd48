"""Loading the production version of a model into this process, once, and keeping it fresh."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from mlcore.registry import UnknownVersion

from .. import monitoring
from ..kinds import kind_get, kind_list
from ..model_store import registry

log = logging.getLogger(__name__)


# After a failed load of a new production version, keep serving the old one this long before
# trying again (verifying checksums of a large model on every request would be a slowdown).
LOAD_RETRY_SECONDS = 30


@dataclass(frozen=True)
class _Served:
    version: int
    stamp: int
    obj: Any


_served: dict[str, _Served] = {}
_load_failed: dict[str, tuple[int, int, float]] = {}
_load_locks: dict[str, threading.Lock] = {}
_load_locks_guard = threading.Lock()


def _stamp(name: str, version: int) -> int:
    # meta.json is rewritten when a version's files change (int8 form, serving form), so its
    # mtime tells a process to reload the same version number.
    try:
        return (registry().root / name / f"v{version:04d}" / "meta.json").stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _load_lock(name: str) -> threading.Lock:
    with _load_locks_guard:
        return _load_locks.setdefault(name, threading.Lock())


def model_load(name: str) -> Any:
    """The production object of a model kind, loaded once per process; follows promotions.

    Every call reads the alias file, so a promotion made by any process is picked up on the next
    call. The new version is loaded (and its checksums verified) before it replaces the old one;
    while one thread loads it, other threads keep getting the old object, and a caller keeps the
    object it got for as long as it holds it, so no request fails during the switch. A version
    that fails to load is refused and the old one keeps serving (retried after a while).
    """
    kind = kind_get(name)
    version = registry().resolve(name)
    stamp = _stamp(name, version)
    current = _served.get(name)
    if current and (current.version, current.stamp) == (version, stamp):
        return current.obj
    failed = _load_failed.get(name)
    if (
        current
        and failed
        and failed[:2] == (version, stamp)
        and time.monotonic() - failed[2] < LOAD_RETRY_SECONDS
    ):
        return current.obj
    lock = _load_lock(name)
    if current is not None:
        if not lock.acquire(blocking=False):
            return current.obj
    else:
        lock.acquire()
    try:
        current = _served.get(name)
        if current and (current.version, current.stamp) == (version, stamp):
            return current.obj
        try:
            registry().verify(name, version)
            obj = kind.loader(registry().artifact_path(name, version))
        except Exception:
            _load_failed[name] = (version, stamp, time.monotonic())
            if current is None:
                raise
            log.exception(
                "could not load %s v%s; v%s keeps serving", name, version, current.version
            )
            return current.obj
        _served[name] = _Served(version, stamp, obj)
        _load_failed.pop(name, None)
        monitoring.serving_version_note(name, version)
        return obj
    finally:
        lock.release()


def model_load_versioned(name: str) -> tuple[Any, int | None]:
    """`model_load` and the version of the object it returned (None if swapped meanwhile)."""
    obj = model_load(name)
    served = _served.get(name)
    return obj, served.version if served is not None and served.obj is obj else None


def model_loaded_version(name: str) -> int | None:
    """The version this process serves right now (None before the first `model_load`)."""
    served = _served.get(name)
    return served.version if served else None


def models_forget() -> None:
    """Drop every loaded model of this process (tests, and after the model folder changes)."""
    _served.clear()
    _load_failed.clear()


def model_available(name: str) -> bool:
    try:
        registry().resolve(name)
    except UnknownVersion:
        return False
    return True


def models_warm() -> list[str]:
    """Load every production model once (called when a worker process starts)."""
    warmed = []
    for kind in kind_list():
        if kind.warm and model_available(kind.name):
            model_load(kind.name)
            warmed.append(kind.name)
    return warmed
