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


# -- imported versions: judged on this server's held-out data -------------------------------------
def _import_claiming(tmp_path, answer: str, claimed_accuracy: float):  # type: ignore[no-untyped-def]
    """Import a `test-lookup` version answering `answer` whose archive claims an accuracy."""
    from apps.mlops.archives import model_version_export, model_version_import

    source = lookup_version(claimed_accuracy, answer)
    archive = tmp_path / f"{answer}-{source.version}.tar.gz"
    model_version_export(name="test-lookup", version=source.version, target=archive)
    return model_version_import(source=archive)


def test_gate_judges_an_imported_version_on_this_servers_data_not_its_archive(on_commit, tmp_path):
    on_commit(lookup_version, 0.50, "a", promote=True)
    boasting = _import_claiming(tmp_path, "b", 0.99)  # scores 1/3 on this server's rows

    result = on_commit(services.model_version_promote, name="test-lookup", version=boasting.version)

    boasting.refresh_from_db()
    assert not result.promoted and "worse than production v1" in result.message
    assert boasting.archive_metrics["accuracy"] == 0.99
    assert boasting.metrics["accuracy"] == pytest.approx(1 / 3)
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "a"


def test_an_imported_version_that_is_good_here_passes_the_gate(on_commit, tmp_path):
    on_commit(lookup_version, 0.50, "b", promote=True)
    modest = _import_claiming(tmp_path, "a", 0.10)  # claims little, scores 2/3 here

    result = on_commit(services.model_version_promote, name="test-lookup", version=modest.version)

    assert result.promoted
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "a"


def test_an_imported_version_that_cannot_be_evaluated_here_needs_an_override(
    on_commit, tmp_path, monkeypatch, ml_admin
):
    from apps.mlops import evaluation

    imported = _import_claiming(tmp_path, "a", 0.99)
    monkeypatch.setattr(evaluation, "held_out_evaluate", lambda **_kw: {})

    refused = on_commit(
        services.model_version_promote, name="test-lookup", version=imported.version
    )
    forced = on_commit(
        services.model_version_promote,
        name="test-lookup",
        version=imported.version,
        user=ml_admin,
        override=True,
        reason="checked by hand",
    )

    assert not refused.promoted and "could not be evaluated" in refused.message
    assert forced.promoted and forced.kind == PromotionEvent.Kind.OVERRIDE


# -- the alias file follows the database -----------------------------------------------------------
def test_reconcile_repairs_an_alias_left_behind_by_a_crash_after_commit(on_commit):
    from apps.mlops.aliases import production_aliases_reconcile

    on_commit(lookup_version, 0.80, "a", promote=True)
    v2 = lookup_version(0.90, "b")
    # The process dies after the commit and before its on-commit alias write: no hooks run.
    services.model_version_promote(name="test-lookup", version=v2.version)
    assert services.registry().resolve("test-lookup") == 1
    assert ModelVersion.objects.get(is_production=True).version == 2

    outcome = production_aliases_reconcile()

    assert outcome == {"test-lookup": "alias moved from v1 to v2"}
    assert services.registry().resolve("test-lookup") == 2
    assert services.model_load("test-lookup").predict(["x"])[0][0] == "b"
    assert production_aliases_reconcile() == {"test-lookup": "v2 in both"}


def test_reconcile_task_on_beat_and_at_worker_start_repairs_the_alias(on_commit):
    from apps.mlops.schedules import BEAT_SCHEDULE
    from apps.mlops.tasks import production_aliases_reconcile_task
    from config.celery import _reconcile_production_aliases

    on_commit(lookup_version, 0.80, "a", promote=True)
    v2 = lookup_version(0.90, "b")
    services.model_version_promote(name="test-lookup", version=v2.version)  # crash: no hooks

    _reconcile_production_aliases()
    at_start = services.registry().resolve("test-lookup")
    services.registry().set_alias("test-lookup", "production", 1)  # drifted again
    production_aliases_reconcile_task.delay()

    assert at_start == 2
    assert services.registry().resolve("test-lookup") == 2
    task_names = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert "apps.mlops.tasks.production_aliases_reconcile_task" in task_names


def test_reconcile_refuses_a_corrupt_production_version_and_keeps_the_alias(on_commit):
    from apps.mlops.aliases import production_aliases_reconcile

    on_commit(lookup_version, 0.80, "a", promote=True)
    v2 = lookup_version(0.90, "b")
    services.model_version_promote(name="test-lookup", version=v2.version)  # crash: no hooks
    (services.registry().artifact_path("test-lookup", 2) / "model.json").write_text("{}")

    outcome = production_aliases_reconcile()

    assert outcome["test-lookup"].startswith("not reconciled")
    assert "checksum" in outcome["test-lookup"]
    assert services.registry().resolve("test-lookup") == 1


def test_alias_file_is_replaced_whole_never_half_written(on_commit, monkeypatch):
    import os

    on_commit(lookup_version, 0.80, "a", promote=True)
    v2 = lookup_version(0.90, "b")
    replaced: list[str] = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "replace", lambda src, dst: (replaced.append(str(dst)), real_replace(src, dst))[1]
    )

    on_commit(services.model_version_promote, name="test-lookup", version=v2.version)

    assert any(path.endswith("aliases.json") for path in replaced)
    assert services.registry().resolve("test-lookup") == 2
