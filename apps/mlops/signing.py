"""HMAC-SHA256 signatures of exported model archives.

An archive carries `signature.json`: the SHA-256 of every other file in it and an HMAC over that
list with this server's archive key (`ML_ARCHIVE_KEY`, or one derived from SECRET_KEY). Import
recomputes both, so an unsigned archive, one signed with another key and one changed after
signing are told apart and refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

from mlcore.registry import RegistryError, file_sha256

log = logging.getLogger(__name__)

SIGNATURE_FILE = "signature.json"
ALGORITHM = "HMAC-SHA256"
_warned = [False]


class ArchiveSignatureError(RegistryError):
    """An archive is unsigned, signed with another key, or changed after it was signed."""


def archive_key() -> bytes:
    """The key that signs and checks archives: ML_ARCHIVE_KEY, else derived from SECRET_KEY."""
    configured = getattr(settings, "ML_ARCHIVE_KEY", "")
    if configured:
        return str(configured).encode()
    if not _warned[0]:
        _warned[0] = True
        log.warning(
            "ML_ARCHIVE_KEY is not set: model archives are signed with a key derived from "
            "SECRET_KEY, so only servers with the same SECRET_KEY accept them"
        )
    return hmac.new(
        settings.SECRET_KEY.encode(), b"textsuite model archive key", hashlib.sha256
    ).digest()


def _key_id(key: bytes) -> str:
    # Names the key in messages ("signed with another key") without revealing it.
    return hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:12]


def _mac(key: bytes, files: dict[str, str]) -> str:
    body = json.dumps({"algorithm": ALGORITHM, "files": files}, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _files_of(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).as_posix() != SIGNATURE_FILE
    }


def signature_write(folder: Path) -> Path:
    """Sign every file under `folder` (the unpacked archive) into `folder/signature.json`."""
    key = archive_key()
    files = _files_of(folder)
    signature = {
        "algorithm": ALGORITHM,
        "key_id": _key_id(key),
        "files": files,
        "mac": _mac(key, files),
    }
    path = folder / SIGNATURE_FILE
    path.write_text(json.dumps(signature, indent=2, sort_keys=True))
    return path


def signature_check(folder: Path) -> str:
    """The key id `folder` (an unpacked archive) was signed with; ArchiveSignatureError why not.

    Every file present must be listed with its hash and nothing listed may be missing, so
    files added to or removed from a signed archive are refused as well as changed ones.
    """
    path = folder / SIGNATURE_FILE
    if not path.is_file():
        raise ArchiveSignatureError("the archive is not signed")
    try:
        signature: dict[str, Any] = json.loads(path.read_text())
        files = {str(k): str(v) for k, v in dict(signature["files"]).items()}
        mac, key_id = str(signature["mac"]), str(signature.get("key_id", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArchiveSignatureError("the archive's signature cannot be read") from exc
    key = archive_key()
    if not hmac.compare_digest(mac, _mac(key, files)):
        if key_id and key_id != _key_id(key):
            raise ArchiveSignatureError(
                f"the archive was signed with another key (key id {key_id[:12]}, this server's "
                f"is {_key_id(key)}): set ML_ARCHIVE_KEY to the exporting server's key"
            )
        raise ArchiveSignatureError("the archive's signature does not match its contents")
    if _files_of(folder) != files:
        raise ArchiveSignatureError("the archive's files differ from the ones that were signed")
    return key_id
