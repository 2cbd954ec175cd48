"""NUL characters in addresses: a clear 400 everywhere, before any query runs."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import Role
from apps.accounts.services import user_create

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
