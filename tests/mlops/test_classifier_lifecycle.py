"""A real MiniLM classifier through the lifecycle: run, evaluation, int8 form, serving form."""

from __future__ import annotations

import pytest

from apps.mlops import services
from apps.mlops.models import ModelVersion, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def test_real_classifier_run_optimise_and_serve_int8(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.training_run_start(
            model_name="test-intent", params={"max_steps": 3, "epochs": 2}
        )
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error + run.log
    version = ModelVersion.objects.get(name="test-intent", version=1)
    fp32 = services.model_load("test-intent")

    result = services.model_version_optimise(name="test-intent", version=1, rounds=1)
    # Three steps of training leave a model whose int8 loss on a few rows is noise: the loss
    # guard is tested below, so this serves int8 whatever was measured.
    services.model_version_serving_form_set(name="test-intent", version=1, form="int8", force=True)
    int8 = services.model_load("test-intent")

    version.refresh_from_db()
    assert version.is_production and "macro_f1" in version.metrics
    assert version.metrics["confusion_matrix"] and run.history
    assert run.progress["total_steps"] == 3
    assert result["int8"]["seconds"] > 0 and result["speedup"] > 0
    assert abs(result["accuracy_change"]) <= 1
    assert version.optimisation["form"] == "int8" and version.serving_form == "int8"
    assert fp32.serving == "fp32" and int8.serving == "int8"
    assert int8.predict(["Where is my parcel"])[0].label in {"delivery", "refund"}
    # The int8 record and the changed serving.json are checksummed: the version still verifies.
    assert services.registry().verify("test-intent", 1).checksums["int8.json"]


def test_an_int8_form_that_lost_accuracy_is_served_only_when_forced(
    django_capture_on_commit_callbacks, client
):
    from apps.accounts.services import user_create

    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_start(model_name="test-intent", params={"max_steps": 2})
    services.model_version_optimise(name="test-intent", version=1, rounds=1)
    version = ModelVersion.objects.get(name="test-intent", version=1)
    version.optimisation = {**version.optimisation, "accuracy_change": -0.2754}
    version.save(update_fields=["optimisation"])
    admin = user_create(username="mladmin", password="pw-ml-123", is_superuser=True)
    client.force_login(admin)
    url = "/mlops/models/test-intent/v1/serving-form/"

    with pytest.raises(ValueError, match=r"lost 27\.5 points of accuracy"):
        services.model_version_serving_form_set(name="test-intent", version=1, form="int8")
    refused = client.post(url, {"form": "int8"}, follow=True)
    version.refresh_from_db()
    assert version.serving_form == "auto"  # as optimisation left it: int8 was not served
    assert "lost 27.5 points of accuracy" in refused.content.decode()

    client.post(url, {"form": "int8", "force": "on"})
    version.refresh_from_db()
    assert version.serving_form == "int8"
