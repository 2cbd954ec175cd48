"""Named base models: MiniLM from its package, mpnet joined from a zip split over five packages
(unpacked once, never half-used), or a model directory."""

from __future__ import annotations

import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from mlcore import base_models
from mlcore.base_models import (
    BaseModelMissing,
    base_model_path,
    base_model_resolve,
    split_zip_unpack,
)


def split_zip(tmp_path: Path, folders: dict[str, dict[str, str]], pieces: int = 3) -> list[Path]:
    """A zip of `folders` (top folder -> file name -> text), cut into `pieces` files."""
    whole = tmp_path / "whole.zip"
    with zipfile.ZipFile(whole, "w") as archive:
        for top, files in folders.items():
            for name, text in files.items():
                archive.writestr(f"{top}/{name}", text)
    data = whole.read_bytes()
    size = -(-len(data) // pieces)
    parts = []
    for n in range(pieces):
        part = tmp_path / f"model.zip.00{n + 1}"
        part.write_bytes(data[n * size : (n + 1) * size])
        parts.append(part)
    return parts


def test_a_split_zip_is_joined_and_unpacked_once(tmp_path: Path) -> None:
    files = {"config.json": '{"model_type": "mpnet"}', "vocab.txt": "[PAD]\n[UNK]\n" * 50}
    parts = split_zip(tmp_path, {"all-mpnet-base-v2": files})
    target = tmp_path / "cache" / "all-mpnet-base-v2"

    first = split_zip_unpack(parts, target)
    for part in parts:
        part.unlink()  # a second call must not need them
    second = split_zip_unpack(parts, target)

    assert first == second == target
    assert (target / "vocab.txt").read_text() == files["vocab.txt"]
    assert [p.name for p in target.parent.iterdir()] == ["all-mpnet-base-v2"]  # no leftovers


def test_a_zip_that_holds_no_model_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    parts = split_zip(tmp_path, {"weights": {"README.md": "no config here"}})
    target = tmp_path / "cache" / "broken"

    with pytest.raises(BaseModelMissing, match=r"no config\.json"):
        split_zip_unpack(parts, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_a_zip_with_two_top_folders_is_refused(tmp_path: Path) -> None:
    parts = split_zip(tmp_path, {"a": {"config.json": "{}"}, "b": {"config.json": "{}"}})

    with pytest.raises(BaseModelMissing, match="2 top folders"):
        split_zip_unpack(parts, tmp_path / "cache" / "x")


def test_names_and_directories_resolve_and_anything_else_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.json").write_text("{}")

    assert base_model_resolve("") == base_model_resolve("minilm") == base_model_path()
    assert base_model_resolve(str(tmp_path / "mine")) == tmp_path / "mine"
    with pytest.raises(ValueError, match="unknown base model 'bert-large': one of minilm, mpnet"):
        base_model_resolve("bert-large")
    with pytest.raises(ValueError, match="unknown base model"):
        base_model_resolve(str(tmp_path))  # a directory without a model


def test_mpnet_without_its_packages_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> metadata.Distribution:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)

    with pytest.raises(BaseModelMissing, match=r"pip install -r requirements-mpnet\.txt"):
        base_model_resolve("mpnet")


def test_mpnet_is_unpacked_into_the_cache_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = split_zip(tmp_path, {"all-mpnet-base-v2": {"config.json": "{}"}}, pieces=5)
    monkeypatch.setattr(base_models, "_mpnet_parts", lambda: parts)
    monkeypatch.setenv("ML_BASE_CACHE", str(tmp_path / "bases"))

    assert base_model_resolve("mpnet") == tmp_path / "bases" / "all-mpnet-base-v2"
    assert (tmp_path / "bases" / "all-mpnet-base-v2" / "config.json").exists()
