import pytest

from mlcore.registry import CorruptArtifact, ModelRegistry, UnknownVersion


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
