"""`python -m bench engine`: the mpnet section skips cleanly where mpnet is not installed."""

from __future__ import annotations

import pytest

from bench import engine
from mlcore import base_models


def test_the_mpnet_section_is_skipped_with_the_install_hint_when_mpnet_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def missing() -> list[str]:
        raise base_models.BaseModelMissing("the mpnet base needs requirements-mpnet.txt")

    monkeypatch.setattr(base_models, "_mpnet_parts", missing)

    outcome = engine.main(["--only", "sentiment", "--base-model", "mpnet", "--threads", "1"])

    assert "sentiment_mpnet" not in outcome["results"]
    assert "sentiment_mpnet section skipped" in outcome["notes"]
    assert "requirements-mpnet.txt" in outcome["notes"]
