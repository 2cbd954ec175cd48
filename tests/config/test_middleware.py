"""NUL characters in addresses: a clear 400 everywhere, before any query runs; a request refused
because too many wait for a model: a 503 with Retry-After, never a 500."""

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.mlops.runtime import ModelsBusy
from config.middleware import ModelsBusyAnswer

pytestmark = pytest.mark.django_db


@pytest.fixture
def mladmin_client(client):
    client.force_login(
        user_create(username="mia", password="pw-mia-123", roles=[Role.ML_ADMIN.value])
    )
    return client


@pytest.mark.parametrize(
    "address",
    ["/api/mlops/runs/?model=B%00", "/api/mlops/models/%00/versions/", "/api/mlops/runs/?%00=1"],
)
def test_api_answers_400_to_a_nul_character_in_the_address(mladmin_client, address):
    response = mladmin_client.get(address)

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_pages_answer_400_to_a_nul_character_in_the_query(client):
    analyst = user_create(username="ann", password="pw-ann-123", roles=[Role.ANALYST.value])
    client.force_login(analyst)

    response = client.get("/sentiment/feed/?q=acme%00")

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_addresses_without_nul_pass_through(mladmin_client):
    response = mladmin_client.get("/api/mlops/runs/?model=B")

    assert response.status_code == 200


def test_the_async_stack_refuses_nul_too(async_client):
    response = async_to_sync(async_client.get)("/api/mlops/runs/?model=B%00")

    assert response.status_code == 400


def test_a_page_refused_as_busy_gets_a_503_page_with_retry_after(rf):
    # Answers ModelsBusy raised by any view; the API form is tested with the ask API
    # (tests/support/test_overload.py).
    answer = ModelsBusyAnswer(lambda request: HttpResponse("unused"))
    request = rf.get("/support/knowledge/")

    response = answer.process_exception(request, ModelsBusy())
    passed = answer.process_exception(request, RuntimeError("another failure"))

    assert response.status_code == 503 and response["Retry-After"] == "2"
    assert "try again" in response.content.decode()
    assert passed is None
