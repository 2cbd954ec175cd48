"""The client address behind rate limits: X-Forwarded-For only as far as proxies are trusted."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.accounts.client_ip import client_ip

CHAT_START_LIMIT = 30  # apps.support.api.ChatStartThrottle


def chat_starts(forwarded_for: list[str], remote: str) -> list[int]:
    api = APIClient()
    return [
        api.post(
            "/api/support/chat/",
            {},
            format="json",
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=forwarded,
        ).status_code
        for forwarded in forwarded_for
    ]


@pytest.mark.django_db
def test_forged_forwarded_addresses_are_one_client_when_no_proxy_is_trusted(settings: Any):
    settings.TRUSTED_PROXY_COUNT = 0

    codes = chat_starts([f"203.0.113.{n}" for n in range(60)], remote="192.0.2.10")

    assert codes.count(429) == 60 - CHAT_START_LIMIT
    assert 429 not in codes[:CHAT_START_LIMIT]


@pytest.mark.django_db
def test_behind_one_trusted_proxy_the_last_forwarded_address_is_the_client(settings: Any):
    settings.TRUSTED_PROXY_COUNT = 1

    # What a client writes in front of our proxy's entry changes nothing: one client.
    same_client = chat_starts([f"10.1.1.{n}, 198.51.100.7" for n in range(40)], remote="192.0.2.11")
    # Different last entries, all through the same proxy socket: different clients.
    many_clients = chat_starts([f"198.51.101.{n}" for n in range(40)], remote="192.0.2.12")

    assert same_client.count(429) == 40 - CHAT_START_LIMIT
    assert 429 not in many_clients


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "192.0.2.1"),
        (1, "", "192.0.2.1"),
        (1, "1.2.3.4, 5.6.7.8", "5.6.7.8"),
        (2, "1.2.3.4, 5.6.7.8", "1.2.3.4"),
        (3, "5.6.7.8", "5.6.7.8"),
        (1, " , ", "192.0.2.1"),
    ],
)
def test_client_ip_reads_only_the_trusted_hops(settings: Any, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected
