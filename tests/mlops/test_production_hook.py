"""A model kind's `on_production` hook runs after every change of the production version,
whatever made it (promotion, override, rollback), and never for a refused one."""

from __future__ import annotations

import dataclasses

import pytest

from apps.mlops import services
from apps.mlops.kinds import kind_get, kind_register

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def seen():
    """Versions the test-lookup kind was told about, in order."""
    calls: list[int] = []
    original = kind_get("test-lookup")
    kind_register(dataclasses.replace(original, on_production=calls.append))
    yield calls
    kind_register(original)


def test_promotion_override_and_rollback_each_tell_the_kind(
    seen, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        v1 = lookup_version(0.80, "a")
        services.model_version_promote(name="test-lookup", version=v1.version)
        worse = lookup_version(0.50, "b")
        refused = services.model_version_promote(name="test-lookup", version=worse.version)
        services.model_version_promote(
            name="test-lookup", version=worse.version, override=True, reason="try it"
        )
        services.model_version_rollback(name="test-lookup", version=v1.version)

    assert not refused.promoted
    assert seen == [v1.version, worse.version, v1.version]


def test_the_hook_waits_for_the_commit(seen, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as pending:
        v1 = lookup_version(0.80, "a")
        services.model_version_promote(name="test-lookup", version=v1.version)
        before_commit = list(seen)
    for callback in pending:
        callback()

    assert before_commit == [] and seen == [v1.version]
