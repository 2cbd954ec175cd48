"""The validation split."""

import pytest

from mlcore.classifier import stratified_split

pytestmark = pytest.mark.slow


def test_stratified_split_keeps_every_label():
    labels = ["a"] * 10 + ["b"] * 10

    train, held = stratified_split(labels, 0.2, seed=1)

    assert sorted(train + held) == list(range(20))
    assert {labels[i] for i in held} == {"a", "b"} and len(held) == 4
