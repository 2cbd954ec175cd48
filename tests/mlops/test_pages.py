"""The staff pages: what an ML admin sees and what their forms do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.mlops import services
from apps.mlops.models import ModelPolicy, ModelVersion, PromotionEvent, TrainingRun

from .conftest import lookup_version, messages_shown

pytestmark = pytest.mark.django_db


def test_pages_need_the_ml_admin_role(client, analyst):
    client.force_login(analyst)

    assert client.get("/mlops/").status_code == 403


def test_model_pages_show_versions_matrix_and_history(admin_client, two_versions):
    listing = admin_client.get("/mlops/").content.decode()
    detail = admin_client.get("/mlops/models/test-lookup/").content.decode()
    version = admin_client.get("/mlops/models/test-lookup/v2/").content.decode()

    assert "Test lookup" in listing and "v1" in listing
    assert "Roll back to v" not in detail  # v2 is newer than production: promote, not roll back
    assert "Promote" in detail and "Override" in detail and "Promoted by the gate" in detail
    assert "side by side with production v1" in version
    assert 'class="matrix"' in version and "-0.2000" in version


def test_override_without_reason_on_the_page_changes_nothing(admin_client, two_versions):
    response = admin_client.post(
        "/mlops/models/test-lookup/promote/", {"version": 2, "override": "on"}, follow=True
    )

    assert any("needs a reason" in m for m in messages_shown(response))
    assert ModelVersion.objects.get(is_production=True).version == 1


def test_refused_promotion_is_explained(admin_client, two_versions):
    response = admin_client.post("/mlops/models/test-lookup/promote/", {"version": 2}, follow=True)

    assert any(m.startswith("Refused:") for m in messages_shown(response))
    assert PromotionEvent.objects.filter(kind="refused").count() == 1


def test_start_run_with_bad_json_keeps_nothing(admin_client):
    response = admin_client.post(
        "/mlops/models/test-lookup/runs/", {"params": "{epochs: 2"}, follow=True
    )

    assert any("not valid JSON" in m for m in messages_shown(response))
    assert not TrainingRun.objects.exists()


def test_start_run_from_the_page_opens_its_live_page(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/mlops/models/test-lookup/runs/", {"params": '{"steps": 2}', "promote": "on"}
        )

    run = TrainingRun.objects.get()
    page = admin_client.get(response.url).content.decode()
    assert response.url == f"/mlops/runs/{run.pk}/"
    assert f'data-ws="/ws/mlops/runs/{run.pk}/"' in page and "succeeded" in page


def test_tolerance_form_validates(admin_client):
    bad = admin_client.post("/mlops/models/test-lookup/policy/", {"tolerance": "lots"}, follow=True)
    good = admin_client.post(
        "/mlops/models/test-lookup/policy/", {"tolerance": "0.03"}, follow=True
    )

    assert any("not saved" in m for m in messages_shown(bad))
    assert any("0.03" in m for m in messages_shown(good))
    assert ModelPolicy.objects.get(name="test-lookup").tolerance == 0.03


def test_monitoring_page_renders_numbers(admin_client):
    from apps.mlops.monitoring import inference_observe

    inference_observe(model="test-lookup", seconds=0.01, predictions=[("a", 0.9)])

    page = admin_client.get("/mlops/models/test-lookup/monitoring/").content.decode()

    assert "monitoring-data" in page and "p50" in page
    assert '"requests": 1' in page


def test_unknown_model_page_is_404(admin_client):
    assert admin_client.get("/mlops/models/nope/").status_code == 404


def test_the_version_page_of_a_name_with_a_nul_character_is_a_client_error(admin_client):
    assert admin_client.get("/mlops/models/a%00b/v1/").status_code in (400, 404)


def test_the_rollback_page_says_a_missing_version_does_not_exist(
    admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, promote=True)

    response = admin_client.post(
        "/mlops/models/test-lookup/rollback/", {"version": "99"}, follow=True
    )

    assert "test-lookup has no version 99" in response.content.decode()


def test_the_gate_form_shows_the_recorded_note_so_saving_keeps_it(admin_client):
    services.model_policy_set(name="test-lookup", tolerance=0.02, note="noisy eval set")

    page = admin_client.get("/mlops/models/test-lookup/").content.decode()

    assert 'name="note" maxlength="300" value="noisy eval set"' in page


def test_a_perfect_held_out_score_is_shown_with_a_warning(admin_client):
    perfect = lookup_version(1.0, "a")
    ModelVersion.objects.filter(pk=perfect.pk).update(metrics={**perfect.metrics, "val_size": 12})

    detail = admin_client.get("/mlops/models/test-lookup/").content.decode()
    version = admin_client.get(f"/mlops/models/test-lookup/v{perfect.version}/").content.decode()

    assert "A perfect held-out" in detail and "A perfect held-out" in version
    assert "Only 12 held-out examples" in version


def test_an_ordinary_score_on_a_large_split_has_no_warning(admin_client):
    usual = lookup_version(0.8, "a")
    ModelVersion.objects.filter(pk=usual.pk).update(metrics={**usual.metrics, "val_size": 400})

    version = admin_client.get(f"/mlops/models/test-lookup/v{usual.version}/").content.decode()

    assert 'data-testid="score-warning"' not in version


def test_promote_and_roll_back_ask_for_confirmation_saying_what_happens(admin_client, two_versions):
    lookup_version(0.9, "c")
    detail = admin_client.get("/mlops/models/test-lookup/").content.decode()

    assert 'data-confirm-title="Promote v3 of Test lookup?"' in detail
    assert "every request will be served by it" in detail
    assert 'data-confirm-title="Override the gate for v2?"' in detail


def test_a_finished_runs_page_says_how_long_it_took(admin_client):
    started = timezone.now() - timedelta(seconds=95)
    run = TrainingRun.objects.create(
        model_name="test-lookup",
        status=TrainingRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(seconds=90),
        data_snapshot={"hash": "abc", "size": 7, "label_distribution": {"a": 7}},
    )

    page = admin_client.get(f"/mlops/runs/{run.pk}/").content.decode()

    assert '"elapsed_s": 90.0' in page and '"finished_at": "' in page
    assert "7 rows" in page and "recorded when training ends" not in page
