"""Exporting a version to a file and importing it elsewhere, with checksums re-verified."""

from __future__ import annotations

import tarfile

import pytest
from django.core.management import CommandError, call_command

from apps.mlops import services
from apps.mlops.models import ModelVersion

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


def test_export_then_import_gives_a_new_version_with_the_same_behaviour(
    tmp_path, django_capture_on_commit_callbacks
):
    lookup_version(0.8, "a")
    lookup_version(0.9, "b")
    archive = tmp_path / "v2.tar.gz"

    call_command("model_export", "test-lookup", "2", str(archive))
    call_command("model_import", str(archive))
    imported = ModelVersion.objects.get(name="test-lookup", version=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_promote(name="test-lookup", version=3)

    assert imported.metrics["accuracy"] == 0.9 and imported.label_distribution == {"a": 20, "b": 10}
    assert "v2" in imported.origin
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"


def test_import_of_a_tampered_archive_is_refused_and_registers_nothing(tmp_path):
    lookup_version(0.8, "a")
    archive = tmp_path / "v1.tar.gz"
    services.model_version_export(name="test-lookup", version=1, target=archive)
    tampered = tmp_path / "tampered.tar.gz"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (unpacked / "artifact" / "model.json").write_text('{"answer": "evil", "confidence": 1}')
    with tarfile.open(tampered, "w:gz") as tar:
        for item in unpacked.iterdir():
            tar.add(item, arcname=item.name)

    with pytest.raises(CommandError, match="checksum"):
        call_command("model_import", str(tampered))

    assert ModelVersion.objects.count() == 1
    assert services.registry().versions("test-lookup") == [1]


def test_import_of_a_missing_or_garbage_file_is_refused(tmp_path):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tarball")

    with pytest.raises(CommandError):
        call_command("model_import", str(tmp_path / "absent.tar.gz"))
    with pytest.raises(CommandError, match="not a readable"):
        call_command("model_import", str(garbage))


def test_export_of_a_corrupt_version_is_refused(tmp_path):
    lookup_version(0.8, "a")
    (services.registry().artifact_path("test-lookup", 1) / "model.json").write_text("{}")

    with pytest.raises(CommandError, match="checksum"):
        call_command("model_export", "test-lookup", "1", str(tmp_path / "x.tar.gz"))
    assert not (tmp_path / "x.tar.gz").exists()
