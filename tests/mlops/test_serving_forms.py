"""A real classifier version's serving forms: exported on promotion, measured, checksummed and
carried in its signed archive, refused beyond the form tolerance unless forced, and served as
each device's fastest form within tolerance."""

from __future__ import annotations

import json

import pytest

from apps.mlops import services
from apps.mlops.archives import model_version_export, model_version_import
from apps.mlops.models import ModelVersion
from mlcore.classifier import TextClassifier
from mlcore.registry import CorruptArtifact
from mlcore.serving.device import cpu_bf16_native

from .conftest import lookup_version

pytestmark = pytest.mark.django_db

# bf16 too where the CPU has native bf16 (mlcore.serving.device.cpu_bf16_native).
CPU_FORMS = {"fp32", "int8", "onnx-fp32", "onnx-int8", "onnx-int8s"} | (
    {"bf16"} if cpu_bf16_native() else set()
)


@pytest.mark.slow
def test_a_promoted_classifier_gets_every_form_measured_and_serves_the_fastest_within_tolerance(
    settings, django_capture_on_commit_callbacks, api, client, ml_admin, tmp_path
):
    settings.ML_FORMS_ON_PROMOTE = True
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_start(model_name="test-intent", params={"max_steps": 2})
    version = ModelVersion.objects.get(name="test-intent", version=1)
    checksums = services.registry().verify("test-intent", 1).checksums
    served = services.model_load("test-intent")
    client.force_login(ml_admin)
    page = client.get("/mlops/models/test-intent/v1/").content.decode()
    listed = api.get("/api/mlops/models/test-intent/versions/1/").json()

    forms = version.optimisation["forms"]
    assert version.is_production and version.serving_form == "auto"
    assert set(forms) == CPU_FORMS
    assert all(f["texts_per_s"] > 0 and 0 <= f["accuracy"] <= 1 for f in forms.values())
    assert {"forms.json", "forms/onnx-fp32.onnx", "forms/onnx-int8.onnx"} <= set(checksums)
    assert "forms/onnx-int8s.onnx" in checksums
    # torch's int8 form is guarded on the held-out texts; its record is a checksummed file.
    int8_record = json.loads(
        services.registry().artifact_path("test-intent", 1).joinpath("int8.json").read_text()
    )
    assert "int8.json" in checksums
    assert version.optimisation["int8_keep_fp32"] == int8_record["keep_fp32"]
    assert version.optimisation["int8_label_agreement"] == int8_record["label_agreement"]
    assert 0.0 <= int8_record["label_agreement"] <= 1.0
    assert served.serving == version.optimisation["fastest"]["cpu"]
    assert 'id="serving-forms"' in page and "onnx-int8s" in page
    assert set(listed["optimisation"]["forms"]) == CPU_FORMS and listed["serving_form"] == "auto"

    # The forms travel in the signed archive and are verified at import.
    archive = model_version_export(name="test-intent", version=1, target=tmp_path / "v1.tar.gz")
    imported = model_version_import(source=archive)
    imported_path = services.registry().artifact_path("test-intent", imported.version)
    onnx_int8 = TextClassifier.load(imported_path, device="cpu", serving="onnx-int8")
    assert (
        "forms/onnx-int8.onnx"
        in services.registry().verify("test-intent", imported.version).checksums
    )
    assert onnx_int8.predict(["Where is my parcel"])[0].label in onnx_int8.labels

    # A changed form file fails the version's checksums.
    form_path = services.registry().artifact_path("test-intent", 1) / "forms" / "onnx-int8.onnx"
    data = bytearray(form_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    form_path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact, match=r"onnx-int8\.onnx does not match"):
        services.registry().verify("test-intent", 1)


@pytest.mark.slow
def test_a_form_beyond_the_form_tolerance_serves_only_when_forced_or_tolerated(
    django_capture_on_commit_callbacks, api
):
    with django_capture_on_commit_callbacks(execute=True):
        services.training_run_start(model_name="test-intent", params={"max_steps": 2})
    services.model_version_optimise(name="test-intent", version=1, rounds=1)
    version = ModelVersion.objects.get(name="test-intent", version=1)
    forms = version.optimisation["forms"]
    forms["onnx-int8"] = {**forms["onnx-int8"], "accuracy_change": -0.05}
    version.save(update_fields=["optimisation"])
    url = "/api/mlops/models/test-intent/versions/1/serving-form/"

    refused = api.post(url, {"form": "onnx-int8"}, format="json")
    version.refresh_from_db()
    kept = version.serving_form
    forced = api.post(url, {"form": "onnx-int8", "force": True}, format="json")
    api.post(url, {"form": "fp32"}, format="json")
    policy = api.put(
        "/api/mlops/models/test-intent/policy/",
        {"tolerance": 0.005, "form_tolerance": 0.06},
        format="json",
    )
    tolerated = api.post(url, {"form": "onnx-int8"}, format="json")

    assert refused.status_code == 400 and "lost 5.0 points" in str(refused.json()["form"])
    assert kept == "auto"
    assert forced.status_code == 200 and forced.json()["serving_form"] == "onnx-int8"
    assert policy.json()["form_tolerance"] == 0.06
    assert tolerated.status_code == 200
    assert services.model_load("test-intent").serving == "onnx-int8"


def test_an_unknown_form_is_a_clear_400_and_changes_nothing(api):
    lookup_version(0.8, "a")

    response = api.post(
        "/api/mlops/models/test-lookup/versions/1/serving-form/", {"form": "int4"}, format="json"
    )

    assert response.status_code == 400 and "int4" in str(response.json()["form"])
    assert ModelVersion.objects.get(name="test-lookup", version=1).serving_form == "fp32"


def test_promoting_a_version_that_is_no_classifier_queues_no_forms(settings):
    settings.ML_FORMS_ON_PROMOTE = True
    lookup_version(0.8, "a")

    assert services.model_version_forms_on_promote(name="test-lookup", version=1) is False


def test_auto_is_refused_before_the_forms_are_measured(api):
    lookup_version(0.8, "a")

    response = api.post(
        "/api/mlops/models/test-lookup/versions/1/serving-form/", {"form": "auto"}, format="json"
    )

    assert response.status_code == 400
