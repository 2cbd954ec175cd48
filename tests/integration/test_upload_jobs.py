"""A large upload through the real stack: web API -> Redis -> Celery worker -> PostgreSQL.

The request answers at once with a job; the worker ingests the file from DATA_DIR/uploads and
the job reports its progress and counts until it is done.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

Stack = Any  # the fixture type from tests/integration/conftest.py (not a package)

pytestmark = pytest.mark.integration

ROWS = 3000


@pytest.fixture
def small_inline(running: Stack) -> Iterator[Stack]:
    """Every file over 1 KB goes to a background job in the processes the test starts."""
    running.env["UPLOAD_INLINE_MAX_BYTES"] = "1000"
    yield running
    running.env.pop("UPLOAD_INLINE_MAX_BYTES", None)


def _token(stack: Stack) -> str:
    result = stack.manage(
        "shell",
        "-c",
        "from apps.accounts.models import User\n"
        "from django.contrib.auth.models import Group\n"
        "from rest_framework.authtoken.models import Token\n"
        "user, _ = User.objects.get_or_create(username='it-uploads-analyst')\n"
        "user.groups.add(Group.objects.get_or_create(name='analyst')[0])\n"
        "print(Token.objects.get_or_create(user=user)[0].key)",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_large_upload_is_ingested_by_the_worker_and_followed_to_the_end(
    small_inline: Stack,
) -> None:
    stack = small_inline
    stack.start_worker(queues="inference")
    stack.start_web()
    lines = ["title,body,external_id"]
    lines += [f"Upload job {i},Quarter {i} figures were published.,it-up-{i}" for i in range(ROWS)]
    content = ("\n".join(lines) + "\n,,\n").encode()  # and one bad line at the end

    with httpx.Client(
        base_url=stack.base_url, headers={"Authorization": f"Token {_token(stack)}"}, timeout=30
    ) as client:
        started = time.monotonic()
        response = client.post(
            "/api/sentiment/upload/",
            files={"file": ("big.csv", content, "text/csv")},
            data={"source": "IT uploads"},
        )
        assert response.status_code == 202, response.text[:500]
        job_url = response.json()["job"]["url"]
        seen: set[str] = set()
        body: dict[str, Any] = {}
        while time.monotonic() - started < 120:
            body = client.get(job_url).json()
            seen.add(body["status"])
            if body["status"] in ("done", "failed"):
                break
            time.sleep(0.2)

    assert body.get("status") == "done", f"{body}\n{stack.log('worker')[-3000:]}"
    assert (body["rows_total"], body["rows_done"], body["stored"]) == (ROWS + 1, ROWS + 1, ROWS)
    assert body["errors_total"] == 1 and body["errors"][0]["line"] == ROWS + 2
    with psycopg.connect(stack.database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM sentiment_document d JOIN sentiment_source s"
            " ON s.id = d.source_id WHERE s.name = 'IT uploads'"
        ).fetchone()
    assert count is not None and count[0] == ROWS
    assert not [p for p in (stack.data_dir / "uploads").rglob("*") if p.is_file()]
