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


def _schema(tmp_path):
    import yaml

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    return yaml.safe_load(out.read_text())


def test_every_operation_documents_its_error_answers(tmp_path):
    schema = _schema(tmp_path)

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.startswith(("/api/mlops/", "/api/sentiment/")):  # staff and analysts only
                assert "403" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "put", "patch"):
                assert "400" in responses, (method, path)
    document = schema["paths"]["/api/sentiment/documents/{id}/"]["get"]["responses"]
    assert document["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    # 429 where a view is throttled (the anonymous chat), not where nothing throttles it.
    assert "429" in schema["paths"]["/api/support/ask/"]["post"]["responses"]
    assert "429" not in document
    # What a view declares itself is kept: the gate's refusal has its own body.
    promote = schema["paths"]["/api/mlops/models/{name}/promote/"]["post"]["responses"]
    assert promote["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PromotionResult"
    }


def test_documented_error_bodies_are_what_the_api_sends(client):
    from apps.accounts.models import Role
    from apps.accounts.services import user_create

    analyst = user_create(username="ann", password="pw-ann-123", roles=[Role.ANALYST.value])
    plain = user_create(username="pat", password="pw-pat-123", roles=[])

    client.force_login(analyst)
    missing = client.get("/api/sentiment/documents/999999/")
    bad_page = client.get("/api/sentiment/documents/?page=nope")
    client.force_login(plain)
    forbidden = client.get("/api/sentiment/documents/")

    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    assert bad_page.status_code == 404 and isinstance(bad_page.json()["detail"], str)
    assert forbidden.status_code == 403 and isinstance(forbidden.json()["detail"], str)
