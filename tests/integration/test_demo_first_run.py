"""The demo's first run, in bin/demo's order: demo data without models, the web server, then
the background trainer. Pages and the chat work before any model exists, signed-in pages say
which model is being trained, and the trainer then registers every demo model and scores the
headlines that waited for the sentiment model.

The demo is loaded into a database of its own (as the page sweep does), so the session's
shared database stays as the other tests expect it; that database starts as a copy of the
session's freshly migrated one, which is what bin/demo's `migrate` leaves on a new machine. The
trainer caps each fine-tuning at a few steps (`demo_train --max-steps`): this checks the order
of things, not the models' quality.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import Stack, db_query, own_site, signed_in_client
from tests.integration.demo_stack import demo_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEMO_MODELS = {"support-intent", "sentiment", "recommender-ranker"}
STAFF_PAGES = ["/", "/support/console/", "/sentiment/", "/shop/", "/mlops/", "/support/chat/"]
NOTICE = "the model is being trained"


@pytest.fixture
def demo(stack: Stack) -> Iterator[Stack]:
    with own_site(stack, "first_run") as first_run:
        yield first_run


def _bot_reply(base: str, question: str) -> dict:
    started = httpx.post(f"{base}/api/support/chat/", json={}, timeout=60).json()
    posted = httpx.post(
        f"{base}/api/support/chat/{started['token']}/messages/", json={"text": question}, timeout=60
    )
    assert posted.status_code == 201, posted.text
    return posted.json()["reply"]


def test_demo_serves_before_its_models_then_trains_them_in_the_background(demo: Stack):
    demo_load(demo)
    base = demo.start_web()

    with signed_in_client(base, "admin", "admin") as staff:
        before = {path: staff.get(path).status_code for path in STAFF_PAGES}
    untrained_reply = _bot_reply(base, "How long does card delivery take?")

    trainer = demo.start(
        "trainer", sys.executable, "manage.py", "demo_train", "--max-steps", "3"
    )  # fmt: skip
    notice_seen = ""
    with signed_in_client(base, "admin", "admin") as staff:
        deadline = time.monotonic() + 900
        while trainer.poll() is None and time.monotonic() < deadline:
            page = staff.get("/sentiment/").text
            if NOTICE in page and not notice_seen:
                notice_seen = re.search(r'id="training-notices">(.*?)</ul>', page, re.S).group(1)
            time.sleep(0.5)
        assert trainer.wait(timeout=60) == 0, demo.log("trainer")
        after_page = staff.get("/sentiment/").text
    trained_reply = _bot_reply(base, "How long does card delivery take?")

    assert before == dict.fromkeys(STAFF_PAGES, 200)
    assert untrained_reply["sender"] == "bot" and "5 to 7 working days" in untrained_reply["text"]
    assert "ready in" in notice_seen and "Until then" in notice_seen, demo.log("trainer")
    served = db_query(demo.database_url, "SELECT name FROM mlops_modelversion WHERE is_production")
    assert {name for (name,) in served} >= DEMO_MODELS
    runs = db_query(demo.database_url, "SELECT model_name, status FROM mlops_trainingrun")
    assert {name for name, _ in runs} == DEMO_MODELS
    assert {status for _, status in runs} == {"succeeded"}
    pending = db_query(
        demo.database_url, "SELECT count(*) FROM sentiment_document WHERE status = 'pending'"
    )
    assert pending == [(0,)]
    assert NOTICE not in after_page
    assert trained_reply is not None and trained_reply["text"]
