import json

import pytest

from mlcore.registry import CorruptArtifact, InvalidName, ModelRegistry, UnknownVersion


def make_artifact(tmp_path, name, text):
    folder = tmp_path / name
    folder.mkdir()
    (folder / "weights.txt").write_text(text)
    return folder


def read_weights(path):
    return (path / "weights.txt").read_text()


def test_register_versions_alias_and_load(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    v1 = reg.register("m", make_artifact(tmp_path, "a", "one"), metrics={"f1": 0.5})
    v2 = reg.register("m", make_artifact(tmp_path, "b", "two"), metrics={"f1": 0.6})

    reg.set_alias("m", "production", 1)
    first = reg.load("m", read_weights)
    reg.set_alias("m", "production", 2)
    second = reg.load("m", read_weights)

    assert (v1.version, v2.version) == (1, 2)
    assert (first, second) == ("one", "two")
    assert reg.info("m", 2).metrics == {"f1": 0.6} and reg.info("m", 1).checksums
    assert reg.loaded_version("m") == 2


def test_loads_once_per_process(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    reg.register("m", make_artifact(tmp_path, "a", "one"))
    reg.set_alias("m", "production", 1)
    calls = []

    for _ in range(3):
        reg.load("m", lambda p: calls.append(p) or "obj")

    assert len(calls) == 1


def test_corrupt_artifact_is_refused_and_old_version_keeps_serving(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    reg.register("m", make_artifact(tmp_path, "a", "one"))
    info2 = reg.register("m", make_artifact(tmp_path, "b", "two"))
    reg.set_alias("m", "production", 1)
    assert reg.load("m", read_weights) == "one"
    (info2.path / "artifact" / "weights.txt").write_text("tampered")

    with pytest.raises(CorruptArtifact):
        reg.set_alias("m", "production", 2)

    # Even if the alias file is moved by hand, a process keeps the verified version in memory.
    aliases = tmp_path / "reg" / "m" / "aliases.json"
    aliases.write_text('{"production": 2}')
    assert reg.load("m", read_weights) == "one"


def test_unknown_alias_raises(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(UnknownVersion):
        reg.resolve("nothing")


@pytest.mark.parametrize("name", ["../../..", "../escaped", "/tmp/abs", "a/b", "M", "", "a b"])
def test_names_that_are_not_plain_model_names_are_refused_and_write_nothing(tmp_path, name):
    root = tmp_path / "deep" / "reg"
    reg = ModelRegistry(root)
    artifact = make_artifact(tmp_path, "a", "one")
    before = set(tmp_path.rglob("*"))

    with pytest.raises(InvalidName):
        reg.register(name, artifact)
    with pytest.raises(InvalidName):
        reg.set_alias(name, "production", 1)

    assert set(tmp_path.rglob("*")) == before


def test_a_recorded_file_outside_the_version_fails_verification(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    info = reg.register("m", make_artifact(tmp_path, "a", "one"))
    meta_path = info.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["checksums"]["../../../outside.txt"] = "0" * 64
    meta_path.write_text(json.dumps(meta))

    with pytest.raises(CorruptArtifact, match="not a path inside the version"):
        reg.verify("m", 1)


def test_an_artifact_folder_is_named_without_reading_the_versions_record(tmp_path):
    reg = ModelRegistry(tmp_path / "reg")
    info = reg.register("m", make_artifact(tmp_path, "a", "one"))
    meta = info.path / "meta.json"
    meta.write_text(meta.read_text()[:10])  # a record that no longer parses

    # The hot path (every question an adapted encoder embeds) only checks the version exists.
    assert read_weights(reg.artifact_path("m", info.version)) == "one"
    with pytest.raises(json.JSONDecodeError):
        reg.info("m", info.version)
    with pytest.raises(UnknownVersion):
        reg.artifact_path("m", info.version + 1)
