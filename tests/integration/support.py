"""Helpers of the support tests in a real browser: a knowledge base with agents, a customer's
chat page whose websockets the test can reach, and signing an agent in to the console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.integration.conftest import Stack, sign_in

# Help-centre articles (title, intents, body) the bot answers from.
CARD_DELIVERY = (
    "Card delivery",
    ["card_arrival"],
    "# Card delivery\n\n## How long delivery takes\n"
    "Your new card usually arrives within 5 to 7 working days after you order it.",
)
CHANGING_PIN = (
    "Changing your PIN",
    ["change_pin"],
    "# Changing your PIN\n\n## Change the PIN of your card\n"
    "You can change the PIN of your card at any ATM, in the ATM's PIN services menu.",
)


def help_centre_setup(*articles: tuple[str, list[str], str], agents: tuple[str, ...] = ()) -> str:
    """Code for `manage.py shell`: the knowledge base "Help centre" with `articles`, embedded,
    and the support agents `agents` with the password `<name>-pass-123`, set again when the
    account exists: the demo's `agent` signs in with another, and whether a test that loads the
    demo ran first in this worker's database must not matter. It prints "ready" at the end."""
    return f"""
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
for title, intents, body in {list(articles)!r}:
    services.article_upsert(kb_id=kb.pk, title=title, intents=intents, body=body)
services.knowledge_embed(kb_id=kb.pk)
for name in {list(agents)!r}:
    user_create(username=name, password=name + "-pass-123", roles=["support_agent"])
print("ready")
"""


# The help centre with one article the bot answers from, and two agents (ayla, bram).
AGENTS_SETUP = help_centre_setup(CARD_DELIVERY, agents=("ayla", "bram"))

# Ayla takes the conversation of `token` over ("take"), or it is closed (anything else).
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


def shell(running: Stack, code: str, marker: str) -> str:
    """Run `code` in `manage.py shell`; what it printed after `marker`."""
    done = running.manage("shell", "-c", code, timeout=300)
    assert marker in done.stdout, done.stdout + done.stderr
    return str(done.stdout.split(marker)[-1].strip())


async def until(
    ws: Any, wanted: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    """The first event on the websocket `ws` that is `wanted`, the ones before it skipped."""

    async def loop() -> dict[str, Any]:
        while True:
            event: dict[str, Any] = json.loads(await ws.recv())
            if wanted(event):
                return event

    return await asyncio.wait_for(loop(), timeout)


def bot_answer(event: dict[str, Any]) -> bool:
    """Whether a chat websocket event is a message of the bot other than its greeting."""
    return bool(
        event["type"] == "message"
        and event["message"]["sender"] == "bot"
        and event["message"]["kind"] != "greeting"
    )


def chat_asked(running: Stack, chromium: Any) -> tuple[Any, Any, str]:
    """A customer's chat page (sockets hooked) after the bot answered a question; returns the
    page, the widget and the conversation's token."""
    shell(running, AGENTS_SETUP, "ready")
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
    widget.locator("li.ts-bot:not(.ts-streaming)").nth(1).wait_for(timeout=60000)
    return page, widget, token


def console_sign_in(page: Any, base: str, username: str) -> None:
    """Sign an agent (password `<username>-pass-123`) in to the console and wait until online."""
    sign_in(page, base, username, f"{username}-pass-123", "/support/console/")
    page.get_by_test_id("presence").filter(has_text="online").wait_for(timeout=30000)


def console_notice(page: Any, running: Stack, text: str, timeout_ms: int = 30000) -> None:
    """Wait until the console shows the notice `text`. When it shows an error instead, or
    nothing in time, fail with what the page and the web server said, not a bare timeout."""
    try:
        page.wait_for_function(
            """(text) => {
                const notice = document.getElementById("notice").textContent;
                const error = document.getElementById("error").textContent;
                return notice.includes(text) || error.trim() !== "";
            }""",
            arg=text,
            timeout=timeout_ms,
        )
    except PlaywrightTimeout:
        pass
    notice = page.locator("#notice").text_content() or ""
    error = page.locator("#error").text_content() or ""
    web = [log for log in running.logs if log.name.startswith("web")]
    tail = web[-1].read_text(errors="replace").splitlines()[-40:] if web else []
    assert text in notice and not error.strip(), (
        f"the console said notice={notice!r} error={error!r}; web log:\n" + "\n".join(tail)
    )
