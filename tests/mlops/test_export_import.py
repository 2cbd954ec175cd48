"""Exporting a version to a signed file and importing it elsewhere: checksums, signature, names,
member paths, and no code run from the archive."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.mlops import services
from apps.mlops.archives import model_version_export, model_version_import
from apps.mlops.models import ModelVersion
from apps.mlops.signing import SIGNATURE_FILE, signature_write

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


def _unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def _pack(folder: Path, target: Path, *, sign: bool = True) -> Path:
    (folder / SIGNATURE_FILE).unlink(missing_ok=True)
    if sign:
        signature_write(folder)
    with tarfile.open(target, "w:gz") as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name)
    return target


def _exported(tmp_path: Path, answer: str = "a", quality: float = 0.8) -> Path:
    version = lookup_version(quality, answer)
    archive = tmp_path / f"v{version.version}.tar.gz"
    model_version_export(name="test-lookup", version=version.version, target=archive)
    return archive


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


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

    assert imported.archive_metrics["accuracy"] == 0.9  # the archive's claim, kept for display
    assert imported.metrics["accuracy"] == pytest.approx(1 / 3)  # measured on this server
    assert imported.label_distribution == {"a": 20, "b": 10}
    assert "v2" in imported.origin and "signed" in imported.origin
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"


def test_import_of_a_tampered_archive_is_refused_and_registers_nothing(tmp_path):
    archive = _exported(tmp_path)
    unpacked = _unpack(archive, tmp_path / "unpacked")
    (unpacked / "artifact" / "model.json").write_text('{"answer": "evil", "confidence": 1}')
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(tampered, "w:gz") as tar:  # the exporter's signature kept as it was
        for item in unpacked.iterdir():
            tar.add(item, arcname=item.name)

    with pytest.raises(CommandError, match="files differ from the ones that were signed"):
        call_command("model_import", str(tampered))
    with pytest.raises(CommandError, match="checksum"):
        call_command("model_import", str(tampered), "--force-unsigned")

    assert ModelVersion.objects.count() == 1
    assert services.registry().versions("test-lookup") == [1]


def test_unsigned_archive_is_refused_with_the_reason_and_registers_nothing(tmp_path):
    archive = _exported(tmp_path)
    unsigned = _pack(_unpack(archive, tmp_path / "u"), tmp_path / "unsigned.tar.gz", sign=False)

    with pytest.raises(CommandError, match=r"not signed.*--force-unsigned"):
        call_command("model_import", str(unsigned))

    assert ModelVersion.objects.count() == 1
    assert services.registry().versions("test-lookup") == [1]


def test_archive_signed_with_another_key_is_refused(tmp_path, settings):
    settings.ML_ARCHIVE_KEY = "the-other-servers-key"
    archive = _exported(tmp_path)
    settings.ML_ARCHIVE_KEY = "this-servers-key"

    with pytest.raises(CommandError, match="signed with another key"):
        call_command("model_import", str(archive))

    assert ModelVersion.objects.count() == 1


def test_archive_signed_with_the_shared_key_moves_between_servers(tmp_path, settings):
    settings.ML_ARCHIVE_KEY = "key-both-servers-share"
    archive = _exported(tmp_path)

    imported = model_version_import(source=archive)

    assert imported.version == 2 and "signed" in imported.origin


def test_an_admin_may_force_an_unsigned_archive_and_the_origin_says_so(tmp_path):
    archive = _exported(tmp_path)
    unsigned = _pack(_unpack(archive, tmp_path / "u"), tmp_path / "unsigned.tar.gz", sign=False)

    call_command("model_import", str(unsigned), "--force-unsigned")

    imported = ModelVersion.objects.get(name="test-lookup", version=2)
    assert "NOT SIGNED" in imported.origin and "forced" in imported.origin


@pytest.mark.parametrize("claimed", ["../../..", "../../../escaped", "/tmp/abs", "Test-Lookup"])
def test_a_model_name_that_climbs_out_of_the_registry_is_refused_and_writes_nothing(
    tmp_path, settings, claimed
):
    settings.ML_MODEL_DIR = tmp_path / "deep" / "down" / "models"
    services.registry.cache_clear()
    archive = _exported(tmp_path / "work")
    unpacked = _unpack(archive, tmp_path / "work" / "unpacked")
    meta = json.loads((unpacked / "meta.json").read_text())
    (unpacked / "meta.json").write_text(json.dumps({**meta, "name": claimed}))
    (unpacked / "modelversion.json").write_text(json.dumps({"name": claimed}))
    crafted = _pack(unpacked, tmp_path / "work" / "crafted.tar.gz")  # validly signed, even
    before = _files_under(tmp_path)

    with pytest.raises(CommandError, match="not a model name"):
        call_command("model_import", str(crafted))
    with pytest.raises(CommandError, match="not a model name"):
        call_command("model_import", str(archive), "--name", claimed)

    assert _files_under(tmp_path) == before
    assert ModelVersion.objects.count() == 1


def test_a_name_that_is_no_kind_of_this_server_is_refused(tmp_path):
    archive = _exported(tmp_path)

    with pytest.raises(CommandError, match="not a model kind of this server"):
        call_command("model_import", str(archive), "--name", "no-such-kind")

    assert ModelVersion.objects.count() == 1


def _member(name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = link
    return member


@pytest.mark.parametrize(
    "member",
    [
        _member("../../escaped.txt"),
        _member("artifact/../../escaped.txt"),
        _member("/tmp/escaped-absolute.txt"),
        _member("artifact/link", tarfile.SYMTYPE, link="/etc/passwd"),
        _member("artifact/inside-link", tarfile.SYMTYPE, link="model.json"),
        _member("artifact/hard", tarfile.LNKTYPE, link="artifact/model.json"),
        _member("artifact/dev", tarfile.CHRTYPE),
        _member("artifact/fifo", tarfile.FIFOTYPE),
        _member("elsewhere.txt"),
    ],
    ids=lambda m: m.name,
)
def test_archive_members_outside_their_folders_or_not_plain_files_are_refused(tmp_path, member):
    archive = _exported(tmp_path / "work")
    crafted = tmp_path / "work" / "crafted.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(crafted, "w:gz") as dst:
        for item in src.getmembers():
            dst.addfile(item, src.extractfile(item) if item.isfile() else None)
        data = b"written by the archive"
        if member.isfile():
            member.size = len(data)
        dst.addfile(member, io.BytesIO(data) if member.isfile() else None)
    before = _files_under(tmp_path)

    with pytest.raises(CommandError, match="refused"):
        call_command("model_import", str(crafted), "--force-unsigned")

    assert _files_under(tmp_path) == before
    assert not Path("/tmp/escaped-absolute.txt").exists()
    assert ModelVersion.objects.count() == 1


def test_recorded_checksum_paths_outside_the_artifact_are_refused(tmp_path):
    archive = _exported(tmp_path)
    unpacked = _unpack(archive, tmp_path / "u")
    meta = json.loads((unpacked / "meta.json").read_text())
    meta["checksums"]["../meta.json"] = "0" * 64
    (unpacked / "meta.json").write_text(json.dumps(meta))
    crafted = _pack(unpacked, tmp_path / "crafted.tar.gz")

    with pytest.raises(CommandError, match="not a path inside the version"):
        call_command("model_import", str(crafted))

    assert ModelVersion.objects.count() == 1


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


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.marker), "w"))


@pytest.mark.slow
def test_a_signed_archive_carrying_pickle_payloads_never_runs_them(
    tmp_path, ml_admin, django_capture_on_commit_callbacks
):
    """Even an archive signed with this server's key (a stolen key, a careless colleague) that
    holds pickled weights cannot run code: nothing in it is ever unpickled."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from mlcore.base_models import base_model_path
    from mlcore.classifier import TextClassifier
    from mlcore.heads import HEAD_FILE, LEGACY_HEAD_FILE, MeanPoolClassifier

    marker = tmp_path / "pwned"
    folder = tmp_path / "crafted"
    base = str(base_model_path())
    artifact = TextClassifier(
        MeanPoolClassifier(AutoModel.from_pretrained(base), 2),
        AutoTokenizer.from_pretrained(base),
        ["delivery", "refund"],
        pooling="mean",
    ).save(folder / "artifact")
    info = json.loads((artifact / "serving.json").read_text())
    (artifact / "serving.json").write_text(json.dumps({**info, "serving": "int8"}))
    torch.save(_Payload(marker), artifact / "quantized_int8.pt")
    (artifact / HEAD_FILE).unlink()
    torch.save(_Payload(marker), artifact / LEGACY_HEAD_FILE)
    from mlcore.registry import file_sha256

    checksums = {
        p.relative_to(artifact).as_posix(): file_sha256(p)
        for p in artifact.rglob("*")
        if p.is_file()
    }
    (folder / "meta.json").write_text(
        json.dumps({"name": "test-intent", "version": 7, "metrics": {}, "checksums": checksums})
    )
    archive = _pack(folder, tmp_path / "crafted.tar.gz")

    imported = model_version_import(source=archive)
    with django_capture_on_commit_callbacks(execute=True):
        services.model_version_promote(
            name="test-intent",
            version=imported.version,
            user=ml_admin,
            override=True,
            reason="testing a hostile archive",
        )
    with pytest.raises(Exception):  # noqa: B017  (the weights-only loader refuses the head)
        services.model_load("test-intent")

    assert not marker.exists()
    assert "quantized_int8.pt" not in services.registry().info("test-intent", 1).checksums


def test_version_page_and_api_show_the_archives_claim_labelled_as_such(tmp_path, client, ml_admin):
    archive = _exported(tmp_path, answer="b", quality=0.97)
    imported = model_version_import(source=archive)
    client.force_login(ml_admin)

    page = client.get(f"/mlops/models/test-lookup/v{imported.version}/").content.decode()
    api = client.get(f"/api/mlops/models/test-lookup/versions/{imported.version}/").json()

    assert "Metrics the archive claimed (not checked" in page and "0.97" in page
    assert api["archive_metrics"]["accuracy"] == 0.97
    assert api["metrics"]["accuracy"] == pytest.approx(1 / 3)
