"""Exporting a model version to a signed .tar.gz and importing one (from this or another server).

What an import trusts, and why:

- Nothing is unpickled. Model files are read with safetensors, JSON and NumPy without pickles;
  the int8 form is rebuilt from the fp32 weights (mlcore.classifier), so the pickled
  `quantized_int8.pt` of older archives is dropped at import.
- Every member must be a plain file or folder under `meta.json`, `modelversion.json`,
  `signature.json` or `artifact/`: no absolute paths, no `..`, no links or devices.
- The model's name must be a registered kind (lower-case letters, digits, dashes).
- The archive must carry a valid HMAC signature with this server's archive key
  (apps/mlops/signing.py), unless an admin forces an unsigned one; the origin says which.
- Its metrics are kept only for display (`archive_metrics`): the version's own metrics are its
  evaluation on this server's held-out data, which is what the promotion gate compares.
"""

from __future__ import annotations

import json
import logging
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.db import transaction

from mlcore.registry import CorruptArtifact, RegistryError, file_sha256, name_check, path_inside
from mlcore.serving.choice import AUTO, FORMS, FP32

from .evaluation import model_version_evaluate_here
from .kinds import kind_get
from .model_store import registry
from .models import ModelVersion
from .signing import SIGNATURE_FILE, ArchiveSignatureError, signature_check, signature_write

log = logging.getLogger(__name__)

EXPORT_MIRROR = "modelversion.json"
TOP_LEVEL = {"meta.json", EXPORT_MIRROR, SIGNATURE_FILE, "artifact"}
# Derived files of older versions that are never loaded any more (and are pickles).
DROPPED_AT_IMPORT = {"quantized_int8.pt"}
MAX_MEMBERS = 10_000


def model_version_export(*, name: str, version: int, target: Path) -> Path:
    """Write a version (files, checksums, metrics) to a signed .tar.gz after verifying it."""
    info = registry().verify(name, version)
    row = ModelVersion.objects.filter(name=name, version=version).first()
    mirror = {
        "name": name,
        "version": version,
        "metrics": row.metrics if row else info.metrics,
        "params": row.params if row else info.params,
        "data_hash": info.data_hash,
        "data_size": row.data_size if row else 0,
        "label_distribution": row.label_distribution if row else {},
        "base_model": info.base_model,
        "main_metric": row.main_metric if row else "",
        "serving_form": row.serving_form if row else "fp32",
    }
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="model-export-") as staging_name:
        staging = Path(staging_name)
        shutil.copy2(info.path / "meta.json", staging / "meta.json")
        shutil.copytree(info.path / "artifact", staging / "artifact")
        (staging / EXPORT_MIRROR).write_text(json.dumps(mirror, indent=2))
        signature_write(staging)
        tmp = target.with_name(target.name + ".tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            for item in sorted(staging.iterdir()):
                tar.add(item, arcname=item.name)
        tmp.replace(target)
    return target


def _members_check(tar: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """The archive's members if every one is a plain file or folder at an expected place."""
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS:
        raise CorruptArtifact(f"{source.name} holds more than {MAX_MEMBERS} files")
    for member in members:
        path = PurePosixPath(member.name)
        shown = member.name[:200]
        if path.is_absolute() or ".." in path.parts or "\\" in member.name:
            raise CorruptArtifact(f"{source.name}: {shown!r} points outside the archive")
        if not (member.isfile() or member.isdir()):
            raise CorruptArtifact(f"{source.name}: {shown!r} is a link or device, not a file")
        parts = [p for p in path.parts if p != "."]
        if not parts or parts[0] not in TOP_LEVEL:
            raise CorruptArtifact(f"{source.name}: unexpected member {shown!r}")
    return members


def _unpack(source: Path, into: Path) -> None:
    try:
        with tarfile.open(source, "r:gz") as tar:
            members = _members_check(tar, source)
            # The data filter refuses the same escapes again should the check above miss one.
            tar.extractall(into, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptArtifact(f"{source} is not a readable model archive: {exc}") from exc


def _checksums_check(unpacked: Path, source: Path, checksums: dict[str, str]) -> None:
    if not checksums:
        raise CorruptArtifact(f"{source} records no checksums")
    artifact = unpacked / "artifact"
    for rel, expected in checksums.items():
        path = path_inside(artifact, str(rel))
        if not path.is_file():
            raise CorruptArtifact(f"{source}: {rel} is missing")
        if file_sha256(path) != expected:
            raise CorruptArtifact(f"{source}: {rel} does not match its checksum")


def _target_name(name: str | None, meta: dict[str, Any], mirror: dict[str, Any]) -> str:
    claimed = name or meta.get("name") or mirror.get("name")
    if not claimed:
        raise CorruptArtifact("the archive does not say which model it is")
    target = name_check(str(claimed))
    try:
        kind_get(target)
    except KeyError:
        raise RegistryError(f"{target!r} is not a model kind of this server") from None
    return target


def _json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError as exc:
        raise CorruptArtifact(f"{path.name} is not JSON") from exc
    if not isinstance(value, dict):
        raise CorruptArtifact(f"{path.name} is not a JSON object")
    return value


def model_version_import(
    *, source: Path, name: str | None = None, force_unsigned: bool = False
) -> ModelVersion:
    """Add an exported version as the next version of its model (not promoted).

    Refused, with nothing registered, when the archive is unreadable, holds anything but plain
    files in its own folders, names no model kind of this server, fails its checksums, or is
    unsigned or signed with another key (`force_unsigned`, for admins, accepts the last two and
    says so in the version's origin). The version is evaluated on this server's held-out data.
    """
    source = Path(source)
    if not source.is_file():
        raise RegistryError(f"{source} does not exist")
    with tempfile.TemporaryDirectory(prefix="model-import-") as tmp_name:
        tmp = Path(tmp_name)
        _unpack(source, tmp)
        meta_path = tmp / "meta.json"
        if not meta_path.is_file() or not (tmp / "artifact").is_dir():
            raise CorruptArtifact(f"{source} has no meta.json and artifact/ folder")
        try:
            key_id = signature_check(tmp)
            trust = f"signed, key {key_id}"
        except ArchiveSignatureError as exc:
            if not force_unsigned:
                raise ArchiveSignatureError(
                    f"{exc}; an admin may import it anyway with --force-unsigned"
                ) from exc
            trust = f"NOT SIGNED ({exc}), forced"
            log.warning("importing %s without a valid signature (forced): %s", source, exc)
        meta = _json(meta_path)
        mirror = _json(tmp / EXPORT_MIRROR)
        _checksums_check(tmp, source, dict(meta.get("checksums") or {}))
        target_name = _target_name(name, meta, mirror)
        for dropped in DROPPED_AT_IMPORT:
            (tmp / "artifact" / dropped).unlink(missing_ok=True)
        archive_metrics = meta.get("metrics") or {}
        with transaction.atomic():
            info = registry().register(
                target_name,
                tmp / "artifact",
                metrics={},
                params=meta.get("params") or {},
                data_hash=str(meta.get("data_hash", "")),
                base_model=str(meta.get("base_model", "")),
            )
            serving = _json(info.path / "artifact" / "serving.json").get("serving", "fp32")
            row = ModelVersion.objects.create(
                name=target_name,
                version=info.version,
                metrics={},
                archive_metrics=archive_metrics if isinstance(archive_metrics, dict) else {},
                params=meta.get("params") or {},
                data_hash=str(meta.get("data_hash", ""))[:64],
                data_size=int(mirror.get("data_size") or 0),
                label_distribution=mirror.get("label_distribution") or {},
                base_model=str(meta.get("base_model", ""))[:300],
                artifact_path=str(info.path),
                main_metric=kind_get(target_name).main_metric,
                serving_form=serving if serving in (*FORMS, AUTO) else FP32,
                origin=(
                    f"imported from {source.name} ({str(meta.get('name'))[:100]} "
                    f"v{str(meta.get('version'))[:10]}, {trust}, "
                    f"created {str(meta.get('created', '?'))[:40]})"
                )[:300],
            )
    model_version_evaluate_here(row=row)
    return row
