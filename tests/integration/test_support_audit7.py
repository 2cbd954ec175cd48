"""Real browser, real ASGI server: "Talk to a human" always tells the customer something, a
rating clicked while the chat reconnects is sent when it is back (and thanked only then), a
reload does not offer the closing rating again, and the console's "Transfer to" list follows
colleagues coming online."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import sign_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.accounts.services import user_create
from apps.accounts.models import User
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
services.article_upsert(kb_id=kb.pk, title="Card delivery", intents=["card_arrival"], body=(
    "# Card delivery\\n\\n## How long delivery takes\\n"
    "Your new card usually arrives within 5 to 7 working days after you order it."))
services.knowledge_embed(kb_id=kb.pk)
for name in ("ayla", "bram"):
    if not User.objects.filter(username=name).exists():
        user_create(username=name, password=name + "-pass-123", roles=["support_agent"])
print("ready")
"""

RATINGS = """
from apps.support.models import Conversation
c = Conversation.objects.get(token="{token}")
rated = c.messages.exclude(rating="").values_list("rating", flat=True)
print("ratings", c.status, c.csat, list(rated))
"""

ACT = """
from apps.accounts.models import User
from apps.support import services
from apps.support.models import Conversation
c = Conversation.objects.get(token="{token}")
if "{what}" == "take":
    services.conversation_take_over(conversation_id=c.pk, agent=User.objects.get(username="ayla"))
else:
    services.conversation_close(conversation_id=c.pk)
print("done", c.pk)
"""

CLOSE_MINE = """
from apps.support import services
from apps.support.models import Conversation
for pk in Conversation.objects.filter(token__in={tokens!r}).exclude(
    status="closed"
).values_list("pk", flat=True):
    services.conversation_close(conversation_id=pk)
print("tidy")
"""

# Keeps the widget's websockets reachable from the test: `__sockets` are the sockets it opened,
# and while `__blocked` is set its new ones go to a path the server refuses (a reconnect that
# keeps failing, as on a flaky network).
SOCKETS = """
(() => {
  const Real = window.WebSocket;
  window.__sockets = [];
  window.__blocked = false;
  function Hooked(url, protocols) {
    const to = window.__blocked ? url.replace("/ws/support/", "/ws/blocked/") : url;
    const ws = new Real(to, protocols);
    window.__sockets.push(ws);
    return ws;
  }
  Hooked.prototype = Real.prototype;
  Object.assign(Hooked, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Hooked;
})();
"""


@pytest.fixture
def tidy(running):
    """The database is shared by the session: later tests must not find our chats waiting.
    Tests add their conversations' tokens to `running.mine`."""
    running.mine = []
    yield running
    done = running.manage("shell", "-c", CLOSE_MINE.format(tokens=running.mine), timeout=300)
    assert "tidy" in done.stdout, done.stdout + done.stderr


def _shell(running: Any, code: str, marker: str) -> str:
    done = running.manage("shell", "-c", code, timeout=300)
    assert marker in done.stdout, done.stdout + done.stderr
    return str(done.stdout.split(marker)[-1].strip())


def _drop_connection(page: Any, widget: Any) -> None:
    """Cut the chat's socket and keep it from reconnecting until `_restore_connection`."""
    page.evaluate("() => { window.__blocked = true; window.__sockets.at(-1).close(); }")
    widget.locator(".ts-status", has_text="Reconnecting").wait_for(timeout=15000)


def _restore_connection(page: Any) -> None:
    page.evaluate("() => { window.__blocked = false; }")


def _chat_asked(running: Any, chromium: Any) -> tuple[Any, Any, str]:
    """A customer's chat page (sockets hooked) after the bot answered a question; returns the
    page, the widget and the conversation's token."""
    _shell(running, SETUP, "ready")
    base = running.start_web()
    page = chromium.new_page()
    page.add_init_script(SOCKETS)
    page.goto(f"{base}/support/chat/")
    widget = page.get_by_test_id("support-widget")
    box = widget.locator("textarea")
    box.fill("How long does card delivery take?")
    box.press("Enter")
    widget.locator("li.ts-customer:not(.ts-pending)").wait_for(timeout=30000)
    token = str(page.evaluate("() => JSON.parse(localStorage.getItem('textsuite-support')).token"))
    running.mine.append(token)
    widget.locator("li.ts-bot:not(.ts-streaming)").nth(1).wait_for(timeout=60000)
    return page, widget, token


def test_ratings_clicked_while_reconnecting_are_sent_and_thanked_only_then(tidy, chromium):
    running = tidy
    page, widget, token = _chat_asked(running, chromium)
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
    assert "['up']" in _shell(running, ratings, "ratings")

    # The same for the closing rating.
    _shell(running, ACT.format(token=token, what="close"), "done")
    csat = widget.locator(".ts-csat")
    csat.locator("button").first.wait_for(timeout=30000)
    _drop_connection(page, widget)
    csat.locator("button", has_text="4").click()
    assert "rated" not in csat.inner_text() and "Thank" not in csat.inner_text()
    assert "closed None" in _shell(running, ratings, "ratings")
    _restore_connection(page)
    csat.filter(has_text="You rated us 4/5. Thank you!").wait_for(timeout=60000)
    assert "closed 4" in _shell(running, ratings, "ratings")
    page.close()


def test_talk_to_a_human_says_when_the_customer_is_queued_or_with_a_person(tidy, chromium):
    running = tidy
    page, widget, token = _chat_asked(running, chromium)
    human = widget.locator("button.ts-human")

    # Queued the first time, then told plainly that they are in the queue...
    human.click()
    widget.locator("li.ts-bot", has_text="fetching a colleague").wait_for(timeout=30000)
    human.click()
    widget.locator(".ts-status", has_text="already in the queue for a person").wait_for(
        timeout=30000
    )
    # ...then that a person is already with them.
    _shell(running, ACT.format(token=token, what="take"), "done")
    widget.locator("li.ts-system", has_text="joined the conversation").wait_for(timeout=30000)
    human.click()
    widget.locator(".ts-status", has_text="A person is already with you").wait_for(timeout=30000)
    page.close()


def test_a_reload_does_not_offer_the_closing_rating_again(tidy, chromium):
    running = tidy
    page, widget, token = _chat_asked(running, chromium)
    _shell(running, ACT.format(token=token, what="close"), "done")
    csat = widget.locator(".ts-csat")
    csat.locator("button", has_text="5").click(timeout=30000)
    csat.filter(has_text="You rated us 5/5").wait_for(timeout=60000)
    assert "closed 5" in _shell(running, RATINGS.format(token=token), "ratings")

    page.reload()

    reloaded = page.get_by_test_id("support-widget").locator(".ts-csat")
    reloaded.filter(has_text="You rated us 5/5").wait_for(timeout=30000)
    assert reloaded.locator("button").count() == 0
    page.close()


# Keeps the frames the console receives, to tell a live update from a reconnect's fresh list.
FRAMES = """
(() => {
  const Real = window.WebSocket;
  window.__frames = [];
  function Hooked(url, protocols) {
    const ws = new Real(url, protocols);
    ws.addEventListener("message", (e) => window.__frames.push(JSON.parse(e.data)));
    return ws;
  }
  Hooked.prototype = Real.prototype;
  Object.assign(Hooked, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Hooked;
})();
"""

LIVE_AGENTS = """
(name) => window.__frames.some(
  (f) => f.type === "agents" && f.agents.some((a) => a.name === name)
)
"""


def test_the_transfer_list_shows_a_colleague_who_comes_online_later(tidy, chromium):
    running = tidy
    _shell(running, SETUP, "ready")
    base = running.start_web()
    first = chromium.new_context().new_page()
    first.add_init_script(FRAMES)
    sign_in(first, base, "ayla", "ayla-pass-123", "/support/console/")
    first.locator("#presence.good").wait_for(timeout=30000)
    options = first.locator("#transfer-to option")
    assert options.filter(has_text="bram").count() == 0

    # A colleague opens the console: the first agent's list gains them, from a live update
    # (not only when the console happens to reconnect and gets a fresh list).
    second = chromium.new_context().new_page()
    sign_in(second, base, "bram", "bram-pass-123", "/support/console/")
    second.locator("#presence.good").wait_for(timeout=30000)
    options.filter(has_text="bram").wait_for(state="attached", timeout=30000)
    first.wait_for_function(LIVE_AGENTS, arg="bram", timeout=30000)

    # ...and loses them when they leave.
    second.context.close()
    options.filter(has_text="bram").wait_for(state="detached", timeout=30000)

    # Opening the list asks the server again (here, consoles reconnect now and then: ask while
    # connected).
    first.locator("#presence.good").wait_for(timeout=30000)
    sent = first.evaluate("() => window.__frames.length")
    first.locator("#transfer-to").dispatch_event("focus")
    first.wait_for_function(
        "(n) => window.__frames.slice(n).some((f) => f.type === 'agents')", arg=sent, timeout=30000
    )
    first.context.close()
