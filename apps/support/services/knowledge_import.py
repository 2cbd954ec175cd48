"""Imports into a knowledge base: uploaded files (articles, FAQ and past-conversation rows)
and fetched pages."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from django.db import transaction

from apps.core.upload_jobs import upload_max_rows

from ..models import Article
from ..text import InvalidText, decode_upload, html_to_markdownish, pdf_to_text
from .faqs import faq_upsert, past_conversation_upsert
from .knowledge import article_upsert
from .web_pages import PAGE_DEADLINE_S, web_page_import

MAX_IMPORT_BYTES = 10 * 1024 * 1024
URL_IMPORT_DEADLINE_S = PAGE_DEADLINE_S  # the whole download of an imported page


# -- imports ---------------------------------------------------------------------------------
@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    kind: str = ""

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors[:50],
        }


def _title_from_markdown(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def knowledge_import_file(
    *, kb_id: int, name: str, data: bytes, status: str = Article.Status.PUBLISHED
) -> ImportReport:
    """Import one uploaded file: an article (.md .html .txt .pdf) or rows (.csv .jsonl) of FAQ
    pairs (question, answer[, intent]) or past conversations (question, best_reply[, intent];
    or text, category). Re-importing the same file updates what it created."""
    if not data:
        raise InvalidText(f"{name} is empty.")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidText(f"{name} is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    suffix = PurePosixPath(name).suffix.lower()
    stem = PurePosixPath(name).stem.replace("-", " ").replace("_", " ").strip() or name
    report = ImportReport()
    if suffix in (".md", ".markdown"):
        text = decode_upload(data, what=name)
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=_title_from_markdown(text, stem),
            body=text,
            body_format=Article.Format.MARKDOWN,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix in (".html", ".htm"):
        text = decode_upload(data, what=name)
        title, _ = html_to_markdownish(text)
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=title or stem,
            body=text,
            body_format=Article.Format.HTML,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix == ".txt":
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=stem,
            body=decode_upload(data, what=name),
            body_format=Article.Format.TEXT,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix == ".pdf":
        if not data.startswith(b"%PDF"):
            raise InvalidText(f"{name} is not a PDF file.")
        report.kind = "article"
        _, outcome = article_upsert(
            kb_id=kb_id,
            title=stem,
            body=pdf_to_text(data),
            body_format=Article.Format.TEXT,
            source_key=f"file:{name}",
            status=status,
        )
        report.count(outcome)
    elif suffix in (".csv", ".jsonl"):
        text = decode_upload(data, what=name)
        rows = _rows_parse(text, suffix, name)
        _rows_import(kb_id=kb_id, rows=rows, report=report)
    else:
        raise InvalidText(
            f"{name}: unsupported file type; use .md, .html, .txt, .pdf, .csv or .jsonl."
        )
    return report


def _rows_parse(text: str, suffix: str, name: str) -> list[dict[str, str]]:
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InvalidText(f"{name} has no header row.")
        return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise InvalidText(f"{name} line {number} is not JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise InvalidText(f"{name} line {number} is not a JSON object.")
        rows.append({str(k): str(v) for k, v in value.items()})
    return rows


@transaction.atomic
def _rows_import(*, kb_id: int, rows: list[dict[str, str]], report: ImportReport) -> None:
    if not rows:
        raise InvalidText("The file has no rows.")
    if len(rows) > upload_max_rows():  # each row is an upsert (and an embedding) in the request
        raise InvalidText(f"The file has more than {upload_max_rows()} rows (UPLOAD_MAX_ROWS).")
    keys = set(rows[0])
    if {"question", "answer"} <= keys:
        report.kind = "faq"
    elif {"question", "best_reply"} <= keys or {"text", "category"} <= keys:
        report.kind = "past_conversations"
    else:
        raise InvalidText(
            "Rows need the columns question,answer[,intent] (FAQ pairs), "
            "question,best_reply[,intent] or text,category (past conversations); found: "
            + ", ".join(sorted(keys))
        )
    for number, row in enumerate(rows, 2):
        try:
            if report.kind == "faq":
                _, outcome = faq_upsert(
                    kb_id=kb_id,
                    question=row.get("question", ""),
                    answer=row.get("answer", ""),
                    intent=row.get("intent", ""),
                )
            else:
                _, outcome = past_conversation_upsert(
                    kb_id=kb_id,
                    question=row.get("question") or row.get("text", ""),
                    best_reply=row.get("best_reply", ""),
                    intent=row.get("intent") or row.get("category", ""),
                )
            report.count(outcome)
        except InvalidText as exc:
            report.errors.append(f"row {number}: {exc}")


def knowledge_import_url(
    *, kb_id: int, url: str, status: str = Article.Status.PUBLISHED
) -> ImportReport:
    """Fetch a page (a public help centre article) and import it; the URL is its key, and the
    page is re-synced on a schedule from now on (services.web_pages).

    Through the guarded fetch: public addresses only on every hop (OUTBOUND_ALLOW_* for an
    intranet), one deadline for the whole download, the size cap kept while it streams."""
    _, outcome = web_page_import(
        kb_id=kb_id,
        url=url,
        status=status,
        max_bytes=MAX_IMPORT_BYTES,
        deadline_s=URL_IMPORT_DEADLINE_S,
    )
    report = ImportReport(kind="article")
    report.count(outcome)
    return report
