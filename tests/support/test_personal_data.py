"""The customer's personal data is masked before a question goes to a language model."""

from __future__ import annotations

import json

import pytest

from apps.support import answers, generation
from apps.support.memory import Exchange

pytestmark = pytest.mark.django_db


def test_prompt_to_the_model_masks_the_customers_words_not_the_help_centre():
    messages = generation._messages(
        "my card 4111 1111 1111 1111 was stolen, email me at jo@example.com",
        ["Lost card: call us on +44 20 7946 0958."],
        history=[("I'm jo@example.com and my IBAN is GB82 WEST 1234 5698 7654 32", "Thanks.")],
    )

    text = json.dumps(messages)
    assert "4111" not in text and "jo@example.com" not in text and "GB82" not in text
    assert "[card number]" in text and "[email]" in text and "[IBAN]" in text
    assert "+44 20 7946 0958" in text  # the help centre's own number is no personal data


def test_an_external_endpoint_receives_the_masked_question(kb, monkeypatch):
    sent = {}

    class Response:
        def iter_lines(self):
            yield 'data: {"choices": [{"delta": {"content": "We will block it."}}]}'
            yield "data: [DONE]"

    class Stream:
        def __init__(self, url, **kwargs):
            sent.update(kwargs["json"])

        def __enter__(self):
            return Response()

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(generation, "outbound_stream", Stream)
    monkeypatch.setattr(generation.settings, "LLM_BASE_URL", "https://llm.example.com/v1")
    kb.answer_mode = "generated"
    kb.save(update_fields=["answer_mode"])
    history = [Exchange("my phone is +44 7700 900123", "Noted.", "extractive")]

    answer = answers.answer_compose(
        kb_id=kb.pk,
        question="How long does card delivery take? My card is 4111 1111 1111 1111",
        history=history,
    )

    prompt = json.dumps(sent["messages"])
    assert answer.kind == "generated" and answer.text == "We will block it."
    assert "4111" not in prompt and "7700" not in prompt
    assert "[card number]" in prompt
