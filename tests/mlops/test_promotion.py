"""The gate, overrides, rollback, artifact checks and switching versions while serving."""

from __future__ import annotations

import pytest

from apps.mlops import services
from apps.mlops.models import ModelVersion, PromotionEvent

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """Run on-commit hooks (the alias move) as a real commit would."""

    def run(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run


def test_first_version_is_promoted_and_served(on_commit):
    v1 = lookup_version(0.80, "a")

    result = on_commit(services.model_version_promote, name="test-lookup", version=v1.version)

    assert result.promoted and result.kind == PromotionEvent.Kind.PROMOTE
    assert services.model_load("test-lookup").predict(["x"]) == [("a", 0.9)]
    assert ModelVersion.objects.get(name="test-lookup", is_production=True).version == 1


def test_gate_refuses_a_worse_version_and_keeps_production(on_commit):
    v1 = lookup_version(0.80, "a")
    on_commit(services.model_version_promote, name="test-lookup", version=v1.version)
    worse = lookup_version(0.70, "b")

    result = on_commit(services.model_version_promote, name="test-lookup", version=worse.version)

    assert not result.promoted and result.kind == PromotionEvent.Kind.REFUSED
    assert "worse than production v1" in result.message
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "a"
    refused = PromotionEvent.objects.get(kind=PromotionEvent.Kind.REFUSED)
    assert (refused.from_version, refused.to_version) == (1, 2)


def test_gate_accepts_better_or_within_tolerance(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    slightly_worse = lookup_version(0.795, "b")  # within the kind's 0.01 tolerance

    result = on_commit(
        services.model_version_promote, name="test-lookup", version=slightly_worse.version
    )

    assert result.promoted
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"


def test_staff_tolerance_overrides_the_kinds_default(on_commit, ml_admin):
    on_commit(lookup_version, 0.80, "a", promote=True)
    candidate = lookup_version(0.75, "b")
    services.model_policy_set(name="test-lookup", tolerance=0.1, user=ml_admin)

    result = on_commit(
        services.model_version_promote, name="test-lookup", version=candidate.version
    )

    assert result.promoted
    assert services.model_tolerance("test-lookup") == 0.1


def test_override_is_recorded_with_user_and_reason(on_commit, ml_admin):
    on_commit(lookup_version, 0.80, "a", promote=True)
    worse = lookup_version(0.50, "b")

    result = on_commit(
        services.model_version_promote,
        name="test-lookup",
        version=worse.version,
        user=ml_admin,
        override=True,
        reason="new labels; old metric not comparable",
    )

    event = PromotionEvent.objects.filter(kind=PromotionEvent.Kind.OVERRIDE).get()
    assert result.promoted
    assert event.user == ml_admin and event.reason == "new labels; old metric not comparable"
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"


def test_override_without_reason_is_refused(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    worse = lookup_version(0.50, "b")

    with pytest.raises(ValueError, match="reason"):
        services.model_version_promote(name="test-lookup", version=worse.version, override=True)

    assert ModelVersion.objects.get(is_production=True).version == 1


def test_rollback_restores_previous_predictions(on_commit, ml_admin):
    on_commit(lookup_version, 0.80, "a", promote=True)
    on_commit(lookup_version, 0.90, "b", promote=True)
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"

    result = on_commit(
        services.model_version_rollback, name="test-lookup", version=1, user=ml_admin
    )

    assert result.promoted and result.kind == PromotionEvent.Kind.ROLLBACK
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "a"
    assert PromotionEvent.objects.filter(kind="rollback", to_version=1, user=ml_admin).exists()


def test_rollback_cannot_skip_the_gate_to_a_new_version(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    newer = lookup_version(0.10, "b")

    with pytest.raises(ValueError, match="promote it through the gate"):
        services.model_version_rollback(name="test-lookup", version=newer.version)

    assert ModelVersion.objects.get(is_production=True).version == 1


def test_corrupt_artifact_is_refused_at_promotion(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    better = lookup_version(0.95, "b")
    model_file = services.registry().artifact_path("test-lookup", better.version) / "model.json"
    model_file.write_text('{"answer": "tampered", "confidence": 1.0}')

    result = on_commit(services.model_version_promote, name="test-lookup", version=better.version)

    assert not result.promoted and "checksum" in result.message
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "a"


def test_corrupt_or_missing_artifact_at_load_keeps_the_old_version_serving(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    served = services.model_load("test-lookup")
    on_commit(lookup_version, 0.90, "b", promote=True)
    # Damage v2 after its promotion: every process loading it must refuse it.
    (services.registry().artifact_path("test-lookup", 2) / "model.json").unlink()

    after = services.model_load("test-lookup")

    assert after is served and after.predict(["x"])[0][0] == "a"
    assert services.model_loaded_version("test-lookup") == 1


def test_missing_artifact_with_nothing_loaded_raises(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    (services.registry().artifact_path("test-lookup", 1) / "model.json").unlink()

    with pytest.raises(Exception, match="missing"):
        services.model_load("test-lookup")


def test_a_caller_keeps_the_object_it_got_while_the_version_switches(on_commit):
    on_commit(lookup_version, 0.80, "a", promote=True)
    in_flight = services.model_load("test-lookup")

    on_commit(lookup_version, 0.90, "b", promote=True)
    new = services.model_load("test-lookup")

    assert in_flight.predict(["x"])[0][0] == "a"
    assert new.predict(["x"])[0][0] == "b"
