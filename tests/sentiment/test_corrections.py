"""Analyst corrections of a text's or a sentence's label, on the page and in the API."""

from __future__ import annotations

from django.urls import reverse


def test_a_correction_of_a_sentence_that_is_not_in_the_text_is_refused(  # type: ignore[no-untyped-def]
    analyst_client, scored_document
) -> None:
    doc = scored_document
    url = f"/api/sentiment/documents/{doc.pk}/correct/"

    typo = analyst_client.post(
        url,
        {"label": "neutral", "sentence": "The chief exec stays upbeat."},
        content_type="application/json",
    )
    sentence = analyst_client.post(
        url, {"label": "neutral", "sentence": "The chief executive stays upbeat."}
    )
    headline = analyst_client.post(url, {"label": "negative", "sentence": "Kestrel Airlines cuts"})
    page = analyst_client.post(
        reverse("sentiment:document", args=[doc.pk]),
        {"label": "neutral", "sentence": "Somebody else's sentence."},
        follow=True,
    )

    assert typo.status_code == 400 and "not in this text" in typo.json()["sentence"]
    assert sentence.status_code == 201 and sentence.json()["predicted_label"] == "positive"
    assert headline.status_code == 201
    assert "Not saved: the sentence is not in this text" in page.content.decode()
    assert list(doc.corrections.order_by("pk").values_list("sentence", flat=True)) == [
        "The chief executive stays upbeat.",
        "Kestrel Airlines cuts",
    ]
