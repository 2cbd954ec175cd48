"""Real browser on the Corpora page (ML admins), with daphne, Redis, a Celery worker and
PostgreSQL: a text file uploaded as an unlabelled corpus is queued, imported by the worker and
shown with its distinct texts and repeats; a file the import cannot use is refused at once with
a message that says why, and the corpus stored before it is kept whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Stack, db_query, sign_in
from tests.integration.support import shell

pytestmark = [pytest.mark.integration]

ADMIN = """
from apps.accounts.models import User
from apps.accounts.services import user_create
if not User.objects.filter(username="corin").exists():
    user_create(username="corin", password="corin-pass-123", roles=["ml_admin"])
print("ready")
"""

# Five lines, two of them repeats once white space is folded: three distinct texts.
NEWS = (
    b"Osprey Freight raised its full-year outlook.\n"
    b"Harbour Bank cut its dividend.\n"
    b"Osprey  Freight raised its full-year   outlook.\n"
    b"\n"
    b"Copper prices rose for a third week.\n"
    b"Harbour Bank cut its dividend.\n"
)
DISTINCT = [
    "Osprey Freight raised its full-year outlook.",
    "Harbour Bank cut its dividend.",
    "Copper prices rose for a third week.",
]
# A CSV whose texts are not in the column the import reads by default (`text`).
HEADLINES = b"headline,date\nRates were held.,2026-03-01\n"


@pytest.fixture
def queued_imports(running: Stack) -> Iterator[Stack]:
    """Every non-empty upload goes to the worker in the processes the test starts."""
    running.env["UPLOAD_INLINE_MAX_BYTES"] = "1"
    yield running
    running.env.pop("UPLOAD_INLINE_MAX_BYTES", None)


def _upload(page: Any, name: str, content: bytes, mime: str) -> Any:
    """Submit the page's upload form with a file for the sentiment app: the response."""
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": mime, "buffer": content}])
    page.select_option("#id_app", "sentiment")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Upload").click()
    return navigation.value


def _stored(stack: Stack) -> list[tuple[Any, ...]]:
    """This test's corpora (the database is the session's): status, counts, stored texts."""
    return db_query(
        stack.database_url,
        "SELECT filename, status, stored, duplicates, corpus_path FROM mlops_corpus"
        " WHERE filename IN ('news.txt', 'headlines.csv') ORDER BY id",
    )


def test_a_corpus_is_imported_by_the_worker_and_a_bad_file_is_refused_keeping_it(
    queued_imports: Stack, chromium: Any
) -> None:
    stack = queued_imports
    shell(stack, ADMIN, "ready")
    stack.start_worker(queues="inference")
    base = stack.start_web()
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, base, "corin", "corin-pass-123", "/mlops/corpora/")
    page.locator("#id_file").wait_for(timeout=30000)

    accepted = _upload(page, "news.txt", NEWS, "text/plain")
    queued_message = page.locator(".messages:not(#training-notices)").inner_text()
    page.locator("#corpora a").first.click()
    card = page.locator("#corpus")
    card.locator("text=distinct texts").wait_for(timeout=120000)  # htmx asks every 2 s
    imported_card = card.inner_text()
    page.goto(f"{base}/mlops/corpora/")
    imported_row = page.locator("#corpora tr", has_text="news.txt").inner_text()
    before_refusal = _stored(stack)

    refused = _upload(page, "headlines.csv", HEADLINES, "text/csv")
    refusal = page.locator(".errorlist").inner_text()
    listed_after_refusal = page.locator("#corpora").inner_text()
    after_refusal = _stored(stack)

    assert accepted.status == 200 and "queued for import" in queued_message
    assert "3 distinct texts" in imported_card and "2 repeats dropped" in imported_card
    assert "\tdone\t3\t2\t" in imported_row
    assert "succeeded" in stack.log("worker") and "corpus_import_task" in stack.log("worker")
    assert refused.status == 400
    assert "no column 'text' in the file; its columns are: date, headline" in refusal
    assert "Nothing was stored." in refusal
    assert after_refusal == before_refusal
    assert [row[:4] for row in after_refusal] == [("news.txt", "done", 3, 2)]
    assert Path(after_refusal[0][4]).read_text().splitlines() == DISTINCT
    assert "news.txt" in listed_after_refusal and "headlines.csv" not in listed_after_refusal
    uploads = stack.data_dir / "uploads" / "corpora"
    assert not [p for p in uploads.rglob("*") if p.is_file()]
    assert errors == []
