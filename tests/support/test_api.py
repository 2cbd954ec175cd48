"""The support REST API's list filters: bad values are a 400 naming the parameter."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.support import services

from .helpers import api_client, conversation_asked


@pytest.mark.parametrize(
    "url",
    [
        "/api/support/articles/?kb=abc",
        "/api/support/faqs/?kb=1.5",
        "/api/support/articles/?status=publish",
        "/api/support/faqs/?status=everything",
        "/api/support/conversations/?status=open",
    ],
)
def test_list_filters_with_bad_values_are_a_400_naming_the_parameter(kb, agent_api, url):
    response = agent_api.get(url)

    assert response.status_code == 400
    name = url.split("?")[1].split("=")[0]
    assert name in response.json()


def test_list_filters_with_good_values_still_filter(kb, agent_api):
    response = agent_api.get(f"/api/support/articles/?kb={kb.pk}&status=published")

    assert response.status_code == 200
    assert response.json()["count"] == 2


def test_include_idle_with_a_bad_value_is_a_400_naming_the_parameter(kb, agent):
    response = api_client(agent).get("/api/support/conversations/?include_idle=maybe")

    assert response.status_code == 400
    assert "include_idle" in response.json()


# The conversation list's ?kb= filter (documented, but ignored).
def test_the_conversation_list_filters_by_knowledge_base(kb, agent):
    other_kb = services.knowledge_base_ensure(name="Other help centre")
    ours = conversation_asked(kb, "How long does card delivery take?")
    theirs = services.conversation_start(kb_id=other_kb.pk)
    services.customer_message_post(conversation_id=theirs.pk, text="Other question")
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(agent)

    mine = client.get(f"/api/support/conversations/?kb={kb.pk}")
    other = client.get(f"/api/support/conversations/?kb={other_kb.pk}&status=bot")
    bad = client.get("/api/support/conversations/?kb=main")

    assert [c["id"] for c in mine.json()["results"]] == [ours.pk]
    assert [c["id"] for c in other.json()["results"]] == [theirs.pk]
    assert bad.status_code == 400 and "kb" in bad.json()
