"""LLM endpoints (issue 17, finding 4): agents choose from a list superusers keep, never type an
address; the server's LLM_API_KEY goes to LLM_BASE_URL alone; every call is a guarded fetch."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.support import answers
from apps.support.models import KnowledgeBase, LlmEndpoint
from tests.listener import Listener, listening, reply
from tests.support.factories import LlmEndpointFactory

QUESTION = "How long does card delivery take?"


def _sse(text: str) -> bytes:
    chunk = {"choices": [{"delta": {"content": text}}]}
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()


@pytest.fixture
def llm() -> Iterator[Listener]:
    """An OpenAI-compatible endpoint on loopback that answers every question the same way."""
    answer = reply(200, _sse("Cards arrive within a week."), "text/event-stream")
    with listening({"/v1/chat/completions": answer}) as running:
        yield running


@pytest.fixture
def attacker() -> Iterator[Listener]:
    """Where an agent would like the bot's questions (and the server's key) to go."""
    with listening({"/v1/chat/completions": reply(200, _sse("Send your PIN to evil."))}) as it:
        yield it


@pytest.fixture
def api(agent) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(agent)
    return client


def _generated(kb: KnowledgeBase) -> KnowledgeBase:
    kb.answer_mode = KnowledgeBase.AnswerMode.GENERATED
    kb.save(update_fields=["answer_mode", "llm_endpoint"])
    return kb


# -- agents choose, never type ---------------------------------------------------------------------
@pytest.mark.django_db
def test_an_agent_posting_an_llm_address_gets_400_and_nothing_is_sent_there(  # type: ignore[no-untyped-def]
    kb, api, attacker: Listener, llm: Listener, settings
) -> None:
    settings.LLM_BASE_URL = f"{llm.url}/v1"
    settings.LLM_API_KEY = "server-secret-key"
    _generated(kb)

    for payload in (
        {"llm_base_url": f"{attacker.url}/v1"},
        {"llm_endpoint": f"{attacker.url}/v1"},
    ):
        response = api.patch(f"/api/support/knowledge-bases/{kb.pk}/", payload, format="json")
        assert response.status_code == 400, payload
    answer = answers.answer_compose(kb_id=kb.pk, question=QUESTION)

    kb.refresh_from_db()
    assert kb.llm_endpoint is None and not LlmEndpoint.objects.exists()
    assert attacker.requests == []
    assert "evil" not in answer.text and len(llm.requests) == 1  # the server's endpoint answered


@pytest.mark.django_db
def test_the_settings_page_offers_the_list_and_refuses_an_address(  # type: ignore[no-untyped-def]
    kb, agent, client, attacker: Listener
) -> None:
    listed = LlmEndpointFactory(name="Company vLLM", base_url="https://llm.example.com/v1")
    client.force_login(agent)
    form = {
        "handoff_threshold": "0.45",
        "faq_threshold": "0.75",
        "answer_mode": "generated",
        "llm_model": "",
        "greeting": "Hello!",
    }

    page = client.get(f"/support/knowledge-bases/{kb.pk}/").content.decode()
    typed = client.post(
        f"/support/knowledge-bases/{kb.pk}/", {**form, "llm_endpoint": f"{attacker.url}/v1"}
    )
    chosen = client.post(f"/support/knowledge-bases/{kb.pk}/", {**form, "llm_endpoint": listed.pk})

    assert f'<option value="{listed.pk}">Company vLLM</option>' in page
    assert typed.status_code == 400 and "Select a valid choice" in typed.content.decode()
    assert chosen.status_code == 302
    kb.refresh_from_db()
    assert kb.llm_endpoint == listed
    assert attacker.requests == []


@pytest.mark.django_db
def test_agents_list_the_endpoints_and_choose_one_by_id(kb, api) -> None:  # type: ignore[no-untyped-def]
    listed = LlmEndpointFactory(
        name="Company vLLM", base_url="https://llm.example.com/v1", model="qwen"
    )

    choices = api.get("/api/support/llm-endpoints/").json()
    chosen = api.patch(
        f"/api/support/knowledge-bases/{kb.pk}/", {"llm_endpoint": listed.pk}, format="json"
    )

    rows = choices["results"] if isinstance(choices, dict) else choices
    assert [(r["id"], r["name"], r["model"]) for r in rows] == [(listed.pk, "Company vLLM", "qwen")]
    assert chosen.status_code == 200 and chosen.json()["llm_endpoint"] == listed.pk
    kb.refresh_from_db()
    assert kb.llm_endpoint == listed


@pytest.mark.django_db
def test_only_superusers_keep_the_endpoint_list(client, settings) -> None:  # type: ignore[no-untyped-def]
    staff = User.objects.create_user("staffer", "s@example.com", "pw-12345", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="support"))
    client.force_login(staff)
    form = {"name": "Evil", "base_url": "https://evil.example/v1", "model": ""}

    refused = client.post("/admin/support/llmendpoint/add/", form)

    assert refused.status_code == 403 and not LlmEndpoint.objects.exists()
    client.force_login(User.objects.create_superuser("root-llm", "r@example.com", "pw-12345"))
    internal = client.post(
        "/admin/support/llmendpoint/add/", {**form, "base_url": "http://10.0.0.5/v1"}
    )
    assert internal.status_code == 200 and "OUTBOUND_ALLOW_HOSTS" in internal.content.decode()
    assert not LlmEndpoint.objects.exists()
    settings.OUTBOUND_ALLOW_NETWORKS = ["10.0.0.0/24"]  # the on-premise model server's range
    added = client.post(
        "/admin/support/llmendpoint/add/", {**form, "base_url": "http://10.0.0.5/v1"}
    )
    assert added.status_code == 302
    assert LlmEndpoint.objects.get().base_url == "http://10.0.0.5/v1"


# -- where the key goes ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_api_key_goes_to_the_server_endpoint_only(kb, llm: Listener, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LLM_BASE_URL = f"{llm.url}/v1"  # the operator's endpoint: trusted, on loopback
    settings.LLM_API_KEY = "server-secret-key"
    _generated(kb)

    by_default = answers.answer_compose(kb_id=kb.pk, question=QUESTION)
    with listening(
        {"/v1/chat/completions": reply(200, _sse("Listed says hi."), "text/event-stream")}
    ) as listed_server:
        # An admin-listed endpoint, reachable on loopback only because the operator allows it.
        settings.OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]
        kb.llm_endpoint = LlmEndpointFactory(
            name="Listed", base_url=f"{listed_server.url}/v1", model="listed-model"
        )
        kb.save(update_fields=["llm_endpoint"])
        by_listed = answers.answer_compose(kb_id=kb.pk, question=QUESTION)

    assert by_default.kind == "generated" and "within a week" in by_default.text
    assert llm.requests[0][2]["Authorization"] == "Bearer server-secret-key"
    assert by_listed.kind == "generated" and by_listed.text == "Listed says hi."
    method, path, headers = listed_server.requests[0]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert "Authorization" not in headers


@pytest.mark.django_db
def test_a_listed_endpoint_on_an_internal_address_is_not_called(kb, attacker: Listener) -> None:  # type: ignore[no-untyped-def]
    # Listed before OUTBOUND_ALLOW_* was set, or its name now resolves to loopback.
    kb.llm_endpoint = LlmEndpointFactory(name="Moved", base_url=f"{attacker.url}/v1")
    _generated(kb)

    answer = answers.answer_compose(kb_id=kb.pk, question=QUESTION)

    assert answer.kind == "extractive"  # the customer still gets an answer
    assert attacker.requests == []


# -- the migration of the old free-text URLs -------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_server_endpoint_and_clears_typed_urls(settings, caplog) -> None:  # type: ignore[no-untyped-def]
    settings.LLM_BASE_URL = "https://llm.internal.example/v1"
    executor = MigrationExecutor(connection)
    executor.migrate([("support", "0001_initial")])
    old_apps = executor.loader.project_state([("support", "0001_initial")]).apps
    OldKB = old_apps.get_model("support", "KnowledgeBase")
    OldKB.objects.create(name="Server", llm_base_url="https://llm.internal.example/v1/")
    OldKB.objects.create(name="Typed", llm_base_url="http://127.0.0.1:8000/metrics")
    OldKB.objects.create(name="Local", llm_base_url="")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    kbs = {kb.name: kb for kb in KnowledgeBase.objects.filter(name__in=["Server", "Typed"])}
    assert all(kb.llm_endpoint is None for kb in kbs.values())
    assert not LlmEndpoint.objects.exists()  # a typed URL never becomes a listed endpoint
    assert not hasattr(kbs["Typed"], "llm_base_url")
    cleared = [r.getMessage() for r in caplog.records if "was cleared" in r.getMessage()]
    assert len(cleared) == 1 and "'Typed'" in cleared[0]  # for an admin to review and list
