"""A tiny classifier fitted once per session, shared by the serving and int8 tests."""

import pytest

from mlcore.classifier import TrainConfig, fit

from .sentences import NEGATIVE, POSITIVE


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(result, progress events, saved path) of a two-label fit on the sentences."""
    texts = POSITIVE * 3 + NEGATIVE * 3
    labels = ["positive"] * 18 + ["negative"] * 18
    events = []
    result = fit(
        texts,
        labels,
        config=TrainConfig(
            epochs=6, batch_size=8, learning_rate=1e-4, patience=6, val_fraction=0.2
        ),
        device="cpu",
        progress=events.append,
    )
    path = result.classifier.save(tmp_path_factory.mktemp("clf") / "model")
    return result, events, path
