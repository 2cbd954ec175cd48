"""Sign-in throttling: per account and per address, refused before any password hashing."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.services import user_create

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery"


class CountingHasher(MD5PasswordHasher):
    """A fast hasher that counts every hash it computes (each a guess a server pays for)."""

    calls: ClassVar[int] = 0

    def encode(self, password: str, salt: str) -> str:
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_FAILURES_PER_IP = 5
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.fixture
def alice() -> Any:
    return user_create(username="alice", password=PASSWORD, roles=[])


def page_login(client: Any, username: str, password: str, ip: str = "10.0.0.1", **extra: Any):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip, **extra
    )


def token_login(username: str, password: str, ip: str = "10.0.0.1"):
    return APIClient().post(
        reverse("api-token"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_login_page_refuses_the_attempt_after_the_limit_without_hashing(client, alice):
    for _ in range(3):
        assert page_login(client, "alice", "guess").status_code == 200  # the form, with an error
    CountingHasher.calls = 0

    refused = page_login(client, "alice", PASSWORD)  # even the right password

    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.content.decode()
    assert CountingHasher.calls == 0
    assert "_auth_user_id" not in client.session


def test_token_endpoint_refuses_the_attempt_after_the_limit_without_hashing(alice):
    for _ in range(3):
        assert token_login("alice", "guess").status_code == 400
    CountingHasher.calls = 0

    refused = token_login("alice", PASSWORD)

    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.json()["detail"]
    assert "Retry-After" in refused.headers
    assert CountingHasher.calls == 0
    assert not Token.objects.filter(user=alice).exists()


def test_admin_sign_in_is_refused_without_hashing_once_locked(client, alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    for _ in range(3):
        page_login(client, "alice", "guess")
    CountingHasher.calls = 0

    client.post(
        reverse("admin:login"), {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
    )

    assert CountingHasher.calls == 0
    assert "_auth_user_id" not in client.session


def test_a_locked_account_is_locked_from_every_address(client, alice):
    for n in range(3):
        page_login(client, "alice", "guess", ip=f"10.0.1.{n}")

    assert page_login(client, "alice", PASSWORD, ip="10.9.9.9").status_code == 429
    assert token_login("alice", PASSWORD, ip="10.9.9.8").status_code == 429


def test_another_account_from_the_same_address_signs_in_until_the_address_limit(client, alice):
    user_create(username="bob", password=PASSWORD, roles=[])
    for _ in range(3):
        page_login(client, "alice", "guess")

    # alice is locked; bob, from the same address, is not (3 of the address's 5 failures).
    assert token_login("bob", PASSWORD).status_code == 200
    for name in ("carol", "dave"):
        page_login(client, name, "guess")
    CountingHasher.calls = 0

    # Five failures from this address: every account is refused from it, and only from it.
    assert token_login("bob", PASSWORD).status_code == 429
    assert CountingHasher.calls == 0
    assert token_login("bob", PASSWORD, ip="10.0.0.2").status_code == 200


def test_a_successful_sign_in_under_the_limit_is_not_blocked(client, alice):
    for _ in range(2):
        page_login(client, "alice", "guess")

    signed_in = page_login(client, "alice", PASSWORD)

    assert signed_in.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert token_login("alice", PASSWORD).status_code == 200


def test_forged_forwarded_addresses_count_as_one_client(client, alice):
    for n in range(5):
        page_login(client, f"user{n}", "guess", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    refused = page_login(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert refused.status_code == 429
