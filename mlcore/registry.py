"""Named models with numbered versions on disk, checksummed artifacts and movable aliases.

Layout::

    <root>/<name>/v0001/artifact/...      the files of the version
    <root>/<name>/v0001/meta.json         metrics, data hash, base model, created, checksums
    <root>/<name>/aliases.json            {"production": 3, ...}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")
PRODUCTION = "production"
RETRY_FAILED_S = 30.0
# A model name becomes a folder under the root: lower-case letters, digits and dashes only, so a
# name (e.g. one read from an imported archive) can never be "..", absolute or hold a separator.
MODEL_NAME_PATTERN = re.compile(r"^[a-z0-9-]+$")


class RegistryError(Exception):
    """Base of registry failures."""


class CorruptArtifact(RegistryError):
    """A version's files are missing or do not match their recorded checksums."""


class UnknownVersion(RegistryError):
    """No such model, version or alias."""


class InvalidName(RegistryError):
    """A model name that is not lower-case letters, digits and dashes."""


def name_check(name: str) -> str:
    """`name` if it is a valid model name, else InvalidName."""
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.fullmatch(name) or len(name) > 100:
        raise InvalidName(
            f"{str(name)[:100]!r} is not a model name (lower-case letters, digits and dashes)"
        )
    return name


def path_inside(root: Path, relative: str) -> Path:
    """`root / relative`, refused (CorruptArtifact) unless it stays inside `root`."""
    candidate = Path(relative)
    if not relative or candidate.is_absolute() or ".." in candidate.parts:
        raise CorruptArtifact(f"{relative[:200]!r} is not a path inside the version")
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise CorruptArtifact(f"{relative[:200]!r} leads outside the version")
    return resolved


@dataclass(frozen=True)
class VersionInfo:
    """What the registry knows about one version."""

    name: str
    version: int
    path: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    base_model: str = ""
    created: str = ""
    checksums: dict[str, str] = field(default_factory=dict)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_hash(rows: list[Any]) -> str:
    """A stable hash of training data (any JSON-serialisable rows)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _write_json_atomic(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(value, fh, indent=2, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class ModelRegistry:
    """Versions on disk plus aliases; loads one copy per process and reloads when an alias moves."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[tuple[str, int], Any] = {}
        self._failed: dict[tuple[str, int], float] = {}
        self._lock = threading.RLock()

    def _model_dir(self, name: str) -> Path:
        return self.root / name_check(name)

    # -- writing ---------------------------------------------------------------------------------
    def register(
        self,
        name: str,
        artifact_dir: str | Path,
        *,
        metrics: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        data_hash: str = "",
        base_model: str = "",
    ) -> VersionInfo:
        """Copy `artifact_dir` in as the next version of `name`, with checksums of every file."""
        src = Path(artifact_dir)
        if not src.is_dir():
            raise RegistryError(f"{src} is not a directory")
        model_dir = self._model_dir(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            staging = Path(tempfile.mkdtemp(dir=model_dir, prefix=".staging-"))
            try:
                shutil.copytree(src, staging / "artifact")
                checksums = {
                    str(p.relative_to(staging / "artifact")): file_sha256(p)
                    for p in sorted((staging / "artifact").rglob("*"))
                    if p.is_file()
                }
                version = max(self.versions(name), default=0) + 1
                meta = {
                    "name": name,
                    "version": version,
                    "metrics": metrics or {},
                    "params": params or {},
                    "data_hash": data_hash,
                    "base_model": base_model,
                    "created": datetime.now(UTC).isoformat(),
                    "checksums": checksums,
                }
                _write_json_atomic(staging / "meta.json", meta)
                staging.rename(model_dir / f"v{version:04d}")
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return self.info(name, version)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point `alias` at `version` after verifying its files; refuses corrupt versions."""
        self.verify(name, version)
        with self._lock:
            aliases = self.aliases(name)
            aliases[alias] = version
            _write_json_atomic(self._model_dir(name) / "aliases.json", aliases)

    def remove_alias(self, name: str, alias: str) -> bool:
        """Drop `alias`; False if it was not set."""
        with self._lock:
            aliases = self.aliases(name)
            if aliases.pop(alias, None) is None:
                return False
            _write_json_atomic(self._model_dir(name) / "aliases.json", aliases)
            return True

    def add_files(self, name: str, version: int, files: dict[str, Path]) -> VersionInfo:
        """Add derived files (e.g. an int8 form) to a version and record their checksums."""
        info = self.info(name, version)
        meta_path = info.path / "meta.json"
        meta = json.loads(meta_path.read_text())
        for rel, src in files.items():
            dest = path_inside(info.path / "artifact", rel)
            if src.resolve() != dest.resolve():
                shutil.copy2(src, dest)
            meta["checksums"][rel] = file_sha256(dest)
        _write_json_atomic(meta_path, meta)
        return self.info(name, version)

    def update_meta(self, name: str, version: int, **fields: Any) -> VersionInfo:
        info = self.info(name, version)
        meta_path = info.path / "meta.json"
        meta = json.loads(meta_path.read_text())
        for key, value in fields.items():
            if isinstance(meta.get(key), dict) and isinstance(value, dict):
                meta[key].update(value)
            else:
                meta[key] = value
        _write_json_atomic(meta_path, meta)
        return self.info(name, version)

    # -- reading ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def versions(self, name: str) -> list[int]:
        model_dir = self._model_dir(name)
        if not model_dir.exists():
            return []
        return sorted(int(p.name[1:]) for p in model_dir.glob("v[0-9]*") if p.is_dir())

    def aliases(self, name: str) -> dict[str, int]:
        path = self._model_dir(name) / "aliases.json"
        return {k: int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}

    def resolve(self, name: str, alias: str = PRODUCTION) -> int:
        version = self.aliases(name).get(alias)
        if version is None:
            raise UnknownVersion(f"model {name!r} has no {alias!r} version")
        return version

    def _version_dir(self, name: str, version: int) -> Path:
        """The folder of a registered version; UnknownVersion when there is none."""
        path = self._model_dir(name) / f"v{int(version):04d}"
        if not (path / "meta.json").exists():
            raise UnknownVersion(f"model {name!r} has no version {version}")
        return path

    def info(self, name: str, version: int) -> VersionInfo:
        path = self._version_dir(name, version)
        meta = json.loads((path / "meta.json").read_text())
        return VersionInfo(
            name=name,
            version=version,
            path=path,
            metrics=meta.get("metrics", {}),
            params=meta.get("params", {}),
            data_hash=meta.get("data_hash", ""),
            base_model=meta.get("base_model", ""),
            created=meta.get("created", ""),
            checksums=meta.get("checksums", {}),
        )

    def artifact_path(self, name: str, version: int) -> Path:
        """A version's artifact folder, named without reading its record (a hot path: every
        question a knowledge base's adapted encoder embeds asks for it)."""
        return self._version_dir(name, version) / "artifact"

    def verify(self, name: str, version: int) -> VersionInfo:
        """Check every recorded file exists and matches its checksum."""
        info = self.info(name, version)
        if not info.checksums:
            raise CorruptArtifact(f"{name} v{version} records no files")
        for rel, expected in info.checksums.items():
            path = path_inside(info.path / "artifact", rel)
            if not path.is_file():
                raise CorruptArtifact(f"{name} v{version}: {rel} is missing")
            if file_sha256(path) != expected:
                raise CorruptArtifact(f"{name} v{version}: {rel} does not match its checksum")
        return info

    # -- loading with a per-process cache --------------------------------------------------------
    def load(self, name: str, loader: Callable[[Path], T], *, alias: str = PRODUCTION) -> T:
        """The object for the version `alias` points at, loaded once per process.

        When the alias moves, the next call loads the new version (verified first); if that fails,
        the version already in memory keeps serving and the error is raised only when there is none.
        """
        version = self.resolve(name, alias)
        key = (name, version)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return Loaded.unwrap(cached)
        fallback = self._latest_cached(name)
        failed_at = self._failed.get(key)
        if fallback is not None and failed_at and time.monotonic() - failed_at < RETRY_FAILED_S:
            return Loaded.unwrap(fallback)  # do not re-verify a broken version on every call
        try:
            self.verify(name, version)
            obj = loader(self.artifact_path(name, version))
        except Exception:
            self._failed[key] = time.monotonic()
            if fallback is None:
                raise
            return Loaded.unwrap(fallback)
        self._failed.pop(key, None)
        with self._lock:
            for old in [k for k in self._cache if k[0] == name]:
                del self._cache[old]
            self._cache[key] = Loaded(version, obj)
        return obj

    def loaded_version(self, name: str) -> int | None:
        with self._lock:
            versions = [v for (n, v) in self._cache if n == name]
        return versions[0] if versions else None

    def _latest_cached(self, name: str) -> Any:
        with self._lock:
            for (n, _), value in self._cache.items():
                if n == name:
                    return value
        return None

    def forget(self, name: str | None = None) -> None:
        with self._lock:
            for key in [k for k in self._cache if name is None or k[0] == name]:
                del self._cache[key]


@dataclass(frozen=True)
class Loaded(Generic[T]):
    version: int
    obj: T

    @staticmethod
    def unwrap(value: Any) -> Any:
        return value.obj
