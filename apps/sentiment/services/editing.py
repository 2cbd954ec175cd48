"""Editing a stored document by hand (the admin): its hash follows its text, and a scored
document whose text changed is scored again, so its counts never describe a text it no longer
holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from mlcore.text import content_hash

from ..models import Document
from .rescoring import documents_rescore

# What an editor may change; the scoring state moves only through the pipeline's claims.
DOCUMENT_FIELDS = ("source", "external_id", "url", "title", "body", "published_at", "language")
# A change to any of these makes the stored score describe another text.
RESCORED_WHEN_CHANGED = frozenset({"title", "body", "language"})
# Its counts sit in that hour's aggregates (a rescore would not move them).
COUNTED = (Document.Status.SCORED, Document.Status.SCORING)


def document_edit_problem(*, document_id: int, values: Mapping[str, Any]) -> str:
    """Why this edit cannot be stored ('' when it can): the form shows it on the field."""
    unknown = set(values) - set(DOCUMENT_FIELDS)
    if unknown:
        return f"not an editable document field: {', '.join(sorted(unknown))}"
    doc = Document.objects.get(pk=document_id)
    moved = "published_at" in values and values["published_at"] != doc.published_at
    if moved and doc.status in COUNTED:
        return "a scored document keeps its publication time (its hour's counts hold it)"
    title, body = values.get("title", doc.title), values.get("body", doc.body)
    digest = content_hash(title, body, normalised=True)
    if Document.objects.filter(content_hash=digest).exclude(pk=document_id).exists():
        return "another stored document has the same text"
    return ""


@transaction.atomic
def document_update(*, document_id: int, values: Mapping[str, Any]) -> Document:
    """Store an edit of a document; raises ValueError with `document_edit_problem`'s reason.

    The content hash follows a new title or body (so ingest still recognises the text), and a
    scored document whose title, body or language changed goes back through rescoring: its old
    counts leave the hourly aggregates and it is queued to be scored again."""
    doc = Document.objects.select_for_update().get(pk=document_id)
    if problem := document_edit_problem(document_id=document_id, values=values):
        raise ValueError(problem)
    changed = [name for name, value in values.items() if getattr(doc, name) != value]
    for name in changed:
        setattr(doc, name, values[name])
    if {"title", "body"} & set(changed):
        doc.content_hash = content_hash(doc.title, doc.body, normalised=True)
        changed.append("content_hash")
    if changed:
        doc.save(update_fields=changed)
    if doc.status == Document.Status.SCORED and RESCORED_WHEN_CHANGED & set(changed):
        documents_rescore(document_ids=[doc.pk])
        doc.refresh_from_db()
    return doc
