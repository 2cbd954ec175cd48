import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_valid_and_has_no_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    schema = out.read_text()
    for prefix in (
        "/api/accounts/",
        "/api/mlops/",
        "/api/support/",
        "/api/sentiment/",
        "/api/recommendations",
    ):
        assert prefix in schema, f"{prefix} missing from the OpenAPI schema"


def test_swagger_ui_is_served(client):
    assert client.get("/api/docs/").status_code == 200
