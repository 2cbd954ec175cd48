"""A feed on localhost -> celery beat + worker over Redis -> PostgreSQL -> alert email by SMTP."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from tests.integration.conftest import Stack, free_port, sentiment_model_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _feed() -> bytes:
    now = datetime.now(UTC)
    titles = [
        "Kestrel Airlines grounds fleet after engine inspection",
        "Kestrel Airlines shares plunge as regulator orders groundings",
        "Kestrel cancels thousands of flights, passengers stranded",
        "Kestrel Airlines warns of heavy quarterly loss",
        "Vantage Retail opens 40 stores in Germany",
    ]
    items = "".join(
        f"<item><title>{t}</title><link>https://news.example.com/it/{i}</link>"
        f"<guid>it-{i}</guid><pubDate>{format_datetime(now - timedelta(minutes=10 * i))}"
        f"</pubDate><description>{t}. The company gave no further details.</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>IT wire</title>'
        f"<link>https://news.example.com/</link><description>x</description>{items}"
        f"</channel></rss>"
    ).encode()


@pytest.fixture
def feed_url() -> Iterator[str]:
    body = _feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", '"it-1"')
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/rss"
    server.shutdown()


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, list[Message]]]:
    from aiosmtpd.controller import Controller

    received: list[Message] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


SETUP = """
from apps.accounts.services import user_create
from apps.sentiment import services
from apps.sentiment.models import AlertRule, Source
owner = user_create(username="it-analyst", password="it-analyst-pw", email="it@example.com",
                    roles=["analyst"])
kestrel = services.entity_upsert(name="Kestrel Airlines", ticker="KSTL", aliases=["Kestrel"])
rule = AlertRule.objects.create(owner=owner, name="Kestrel chatter", metric="volume",
                                mode="threshold", threshold=3, min_volume=3, window_hours=6)
rule.entities.set([kestrel])
services.source_get_or_create(name="IT wire", kind=Source.Kind.RSS, url="{url}",
                              poll_interval_s=600)
print("setup ok")
"""


def test_feed_to_scored_documents_to_alert_email(
    running: Stack, feed_url: str, smtp_inbox: tuple[int, list[Message]], tmp_path: Path
) -> None:
    port, inbox = smtp_inbox
    running.env["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    running.env["SITE_URL"] = "http://textsuite.test"
    # The feed is served on loopback, which the guarded fetch refuses unless allowed.
    running.env["OUTBOUND_ALLOW_NETWORKS"] = "127.0.0.1/32"
    # Beat looks for due feeds every 2 s instead of every minute: the new feed is polled at
    # once, not after a minute of waiting (it is due again only after its 600 s interval).
    running.env["SENTIMENT_POLL_DUE_S"] = "2"
    sentiment_model_ready(running, tmp_path)
    setup = running.manage("shell", "-c", SETUP.replace("{url}", feed_url))
    assert "setup ok" in setup.stdout, setup.stdout + setup.stderr

    running.start_worker()
    running.start(
        "beat",
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "beat",
        "-l",
        "INFO",
        "-s",
        str(running.data_dir / "beat-schedule"),
    )

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not inbox:
        time.sleep(1)
    assert inbox, (
        "no alert email arrived\n" + running.log("worker")[-4000:] + running.log("beat")[-2000:]
    )

    message = inbox[0]
    assert "Kestrel Airlines" in message["Subject"]
    assert "4 texts" in message["Subject"]
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "text/plain" in parts and "text/html" in parts and "image/png" in parts
    html = parts["text/html"].get_payload(decode=True).decode()
    assert "cid:trend" in html and "http://textsuite.test/sentiment/" in html
    assert "/unsubscribe/" in html
    # A stable Message-ID on the site's domain, recorded with the delivery before the hand-off.
    assert message["Message-ID"].startswith("<textsuite.alert.")
    assert message["Message-ID"].endswith("@textsuite.test>")
    with psycopg.connect(running.database_url) as conn:
        # The stack's database is shared by the session's tests: look at this test's rows only.
        statuses = dict(
            conn.execute(
                "select d.status, count(*) from sentiment_document d join sentiment_source s"
                " on s.id = d.source_id where s.name = 'IT wire' group by d.status"
            ).fetchall()
        )
        sent = conn.execute(
            "select count(*) from sentiment_alert a join sentiment_alertrule r on r.id = a.rule_id"
            " where r.name = 'Kestrel chatter' and a.sent_at is not null"
        ).fetchone()
        source = conn.execute(
            "select status, etag from sentiment_source where name = 'IT wire'"
        ).fetchone()
        delivered = conn.execute(
            "select outcome from sentiment_emaildelivery where message_id = %s",
            (message["Message-ID"],),
        ).fetchall()
    assert statuses == {"scored": 5}
    assert sent == (1,)
    assert source == ("ok", '"it-1"')
    assert delivered == [("sent",)]
    time.sleep(3)
    assert len(inbox) == 1  # never sent twice
