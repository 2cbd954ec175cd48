import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import Role
from apps.accounts.roles import user_has_role
from apps.accounts.services import token_get_or_create, user_create

pytestmark = pytest.mark.django_db


def test_home_page_leads_to_the_three_apps_for_anonymous_visitors(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    body = response.content.decode()
    for app_link in (reverse("support:chat"), reverse("recommender:home")):
        assert app_link in body
    assert "Sign in" in body


def test_roles_gate_pages_and_navigation(client):
    analyst = user_create(username="ana", password="pw-12345-long", roles=[Role.ANALYST])
    agent = user_create(username="bob", password="pw-12345-long", roles=[Role.SUPPORT_AGENT])

    assert user_has_role(analyst, Role.ANALYST) and not user_has_role(analyst, Role.ML_ADMIN)
    client.force_login(agent)
    assert client.get(reverse("mlops:models")).status_code == 403
    home = client.get(reverse("home")).content.decode()
    assert reverse("support:console") in home


def test_anonymous_user_is_sent_to_login_for_role_pages(client):
    response = client.get(reverse("mlops:models"))

    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_superuser_and_staff_have_the_ml_admin_role():
    boss = user_create(username="boss", password="pw-12345-long", is_superuser=True)
    staff = user_create(username="staff", password="pw-12345-long", is_staff=True)

    assert all(user_has_role(boss, role) for role in Role)
    assert user_has_role(staff, Role.ML_ADMIN) and not user_has_role(staff, Role.ANALYST)


def test_api_requires_authentication_and_accepts_tokens():
    user = user_create(username="tok", password="pw-12345-long", roles=[Role.MERCHANDISER])
    api = APIClient()

    assert api.get("/api/accounts/me/").status_code in (401, 403)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_get_or_create(user=user)}")
    me = api.get("/api/accounts/me/")

    assert me.status_code == 200
    assert me.json()["roles"] == [Role.MERCHANDISER.value]


def test_token_endpoint_rejects_wrong_password():
    user_create(username="pw", password="right-password-123")

    response = APIClient().post("/api/accounts/token/", {"username": "pw", "password": "wrong"})

    assert response.status_code == 400


def test_login_flow(client):
    user_create(username="carol", password="carol-password-1")

    response = client.post(reverse("login"), {"username": "carol", "password": "carol-password-1"})

    assert response.status_code == 302
    assert client.get("/api/accounts/me/").json()["username"] == "carol"


def test_healthz_reports_database(client):
    assert client.get("/healthz").json() == {"status": "ok"}
