"""Real browser, real ASGI server: rating the chat's answers and the closed conversation. A
rating clicked while the chat reconnects is sent when it is back (and thanked only then), and a
reload does not offer the closing rating again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.support import ACT, chat_asked, shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RATINGS = """
from apps.support.models import Conversation
c = Conversation.objects.get(token="{token}")
rated = c.messages.exclude(rating="").values_list("rating", flat=True)
print("ratings", c.status, c.csat, list(rated))
"""


def _drop_connection(page: Any, widget: Any) -> None:
    """Cut the chat's socket and keep it from reconnecting until `_restore_connection`."""
    page.evaluate("() => { window.__blocked = true; window.__sockets.at(-1).close(); }")
    widget.locator(".ts-status", has_text="Reconnecting").wait_for(timeout=15000)


def _restore_connection(page: Any) -> None:
    page.evaluate("() => { window.__blocked = false; }")


def test_ratings_clicked_while_reconnecting_are_sent_and_thanked_only_then(support_tidy, chromium):
    running = support_tidy
    page, widget, token = chat_asked(running, chromium)
    ratings = RATINGS.format(token=token)
    answer = widget.locator("li.ts-bot:not(.ts-streaming)").nth(1)
    rate = answer.locator(".ts-rate")
    assert rate.locator("button").count() == 2, answer.inner_text()  # an answer, not a handoff

    # An up/down clicked while the chat reconnects is not thanked for until it arrived.
    _drop_connection(page, widget)
    rate.locator("button.ts-rate-up").click()
    assert "Thanks" not in rate.inner_text()
    assert "Not sent yet" in rate.inner_text()
    _restore_connection(page)
    # A reconnect backs off up to 32 s after repeated failures.
    rate.filter(has_text="Thanks for the feedback").wait_for(timeout=60000)
    assert "['up']" in shell(running, ratings, "ratings")

    # The same for the closing rating.
    shell(running, ACT.format(token=token, what="close"), "done")
    csat = widget.locator(".ts-csat")
    csat.locator("button").first.wait_for(timeout=30000)
    _drop_connection(page, widget)
    csat.locator("button", has_text="4").click()
    assert "rated" not in csat.inner_text() and "Thank" not in csat.inner_text()
    assert "closed None" in shell(running, ratings, "ratings")
    _restore_connection(page)
    csat.filter(has_text="You rated us 4/5. Thank you!").wait_for(timeout=60000)
    assert "closed 4" in shell(running, ratings, "ratings")
    page.close()


def test_a_reload_does_not_offer_the_closing_rating_again(support_tidy, chromium):
    running = support_tidy
    page, widget, token = chat_asked(running, chromium)
    shell(running, ACT.format(token=token, what="close"), "done")
    csat = widget.locator(".ts-csat")
    csat.locator("button", has_text="5").click(timeout=30000)
    csat.filter(has_text="You rated us 5/5").wait_for(timeout=60000)
    assert "closed 5" in shell(running, RATINGS.format(token=token), "ratings")

    page.reload()

    reloaded = page.get_by_test_id("support-widget").locator(".ts-csat")
    reloaded.filter(has_text="You rated us 5/5").wait_for(timeout=30000)
    assert reloaded.locator("button").count() == 0
    page.close()
