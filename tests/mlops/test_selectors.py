"""The lifecycle selectors: reads by model name."""

from __future__ import annotations

import pytest

from apps.mlops import selectors

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


def test_model_reads_by_a_name_with_a_nul_character_find_nothing():
    # PostgreSQL refuses a NUL even in a lookup; every API view and page reads through these.
    lookup_version(0.8)

    assert selectors.model_versions("test-lookup\x00") == []
    assert selectors.version_get("test-lookup\x00", 1) is None
    assert selectors.promotion_events("test-lookup\x00") == []
    assert selectors.training_runs("test-lookup\x00") == []
