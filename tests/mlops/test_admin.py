"""The Django admin's lifecycle actions go through the same services as the pages."""

from __future__ import annotations

import pytest

from apps.accounts.models import User
from apps.mlops.models import ModelVersion, PromotionEvent, TrainingRun
from tests.mlops.factories import TrainingRunFactory

from .conftest import lookup_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):  # type: ignore[no-untyped-def]
    client.force_login(User.objects.create_superuser("root-test", "r@example.com", "pw-12345"))
    return client


def test_admin_promote_action_runs_the_gate(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lookup_version(0.8, "a", promote=True)
    worse = lookup_version(0.5, "b")

    staff_client.post(
        "/admin/mlops/modelversion/",
        {"action": "promote_through_gate", "_selected_action": [worse.pk]},
    )

    assert ModelVersion.objects.get(is_production=True).version == 1
    assert PromotionEvent.objects.filter(kind="refused", to_version=2).exists()


def test_admin_add_run_queues_it_and_cancel_action(
    staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/admin/mlops/trainingrun/add/",
            {"model_name": "test-lookup", "params": '{"steps": 1}', "promote": "on"},
        )
    queued = TrainingRunFactory()

    staff_client.post(
        "/admin/mlops/trainingrun/",
        {"action": "cancel_runs", "_selected_action": [queued.pk]},
    )

    first = TrainingRun.objects.order_by("pk").first()
    queued.refresh_from_db()
    assert first.status == "succeeded" and first.version is not None
    assert queued.status == "cancelled"
