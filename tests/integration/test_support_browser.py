"""Real browser: an agent signs in and picks a waiting conversation up in the console, cannot
close a colleague's conversation from it, and the console's "Transfer to" list follows colleagues
coming online; a newly waiting customer raises the waiting badge and the title counter and, with
the sound option on (only then), plays one tone; the widget's rating buttons are legible."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sign_in
from tests.integration.support import AGENTS_SETUP, console_sign_in, shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SETUP = """
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
user_create(username="agent", password="agent-pass-123", roles=["support_agent"])
conversation = services.conversation_start(kb_id=kb.pk, customer_name="Robin")
services.customer_message_post(conversation_id=conversation.pk, text="My card was swallowed")
services.conversation_handoff(conversation_id=conversation.pk, reason="customer_asked")
print("conversation", conversation.pk)
"""


def test_agent_takes_a_waiting_conversation_in_the_console(running, chromium):
    setup = running.manage("shell", "-c", SETUP, timeout=300)
    assert "conversation" in setup.stdout, setup.stdout + setup.stderr
    conversation_id = setup.stdout.split("conversation")[-1].strip()
    base = running.start_web()
    page = chromium.new_page()

    sign_in(page, base, "agent", "agent-pass-123", "/support/console/")
    item = page.locator(f'.queue section[data-status="waiting"] li[data-id="{conversation_id}"]')
    item.wait_for(timeout=30000)
    item.click()
    page.get_by_test_id("take-over").click()

    status = page.get_by_test_id("conv-status")
    status.filter(has_text="agent").wait_for(timeout=30000)
    assert (
        page.locator(f'.queue section[data-status="agent"] li[data-id="{conversation_id}"]').count()
        == 1
    )
    assert "My card was swallowed" in page.locator("#messages").inner_text()
    page.close()


# WCAG relative luminance and contrast ratio of an element's text against its own background.
CONTRAST = """
(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const style = getComputedStyle(el);
  const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""

# The widget's rating rows as widget.js builds them, inside the page's own stylesheets.
RATING_ROWS = """
() => {
  const chat = document.querySelector('[data-testid="support-widget"]');
  const list = chat.querySelector('.ts-messages');
  const rate = document.createElement('div');
  rate.className = 'ts-rate';
  rate.innerHTML = '<button class="ts-rate-up">Helpful</button>';
  const csat = document.createElement('div');
  csat.className = 'ts-csat';
  csat.innerHTML = '<span class="ts-csat-buttons"><button>4</button></span>';
  list.append(rate, csat);
}
"""


def test_the_widgets_rating_buttons_are_legible(running, chromium):
    # They were white on white: app.css's `button{color:#fff}` met widget.css's white background.
    base = running.start_web()
    page = chromium.new_page()
    page.goto(f"{base}/support/chat/")
    page.get_by_test_id("support-widget").locator(".ts-messages").wait_for(timeout=30000)
    page.evaluate(RATING_ROWS)
    for selector in (".ts-rate button", ".ts-csat button"):
        ratio = page.locator(selector).first.evaluate(CONTRAST)
        assert ratio >= 4.5, f"{selector} has a contrast of {ratio:.2f}:1 (WCAG AA needs 4.5:1)"
    page.close()


TAKEN = """
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
owner = user_create(username="alder", password="alder-pass-123", roles=["support_agent"])
user_create(username="birch", password="birch-pass-123", roles=["support_agent"])
conversation = services.conversation_start(kb_id=kb.pk, customer_name="Quinn")
services.customer_message_post(conversation_id=conversation.pk, text="My card is stuck, ibis")
services.conversation_take_over(conversation_id=conversation.pk, agent=owner)
print("conversation", conversation.pk)
"""

STATUS = """
from apps.support.models import Conversation
print("status", Conversation.objects.get(pk={pk}).status)
"""


def test_an_agent_cannot_close_a_colleagues_conversation_from_the_console(support_tidy, chromium):
    running = support_tidy
    setup = running.manage("shell", "-c", TAKEN, timeout=300)
    assert "conversation" in setup.stdout, setup.stdout + setup.stderr
    conversation_id = setup.stdout.split("conversation")[-1].strip()
    base = running.start_web()
    page = chromium.new_page()
    console_sign_in(page, base, "birch")

    page.locator(f'.queue section[data-status="agent"] li[data-id="{conversation_id}"]').click(
        timeout=30000
    )
    page.locator("#messages li", has_text="ibis").wait_for(timeout=30000)
    page.locator("#close").click()

    page.locator("#error", has_text="only they or a supervisor can close it").wait_for(
        timeout=30000
    )
    assert page.get_by_test_id("conv-status").inner_text() == "agent"
    status = running.manage("shell", "-c", STATUS.format(pk=conversation_id), timeout=300)
    assert "status agent" in status.stdout, status.stdout + status.stderr
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


def test_the_transfer_list_shows_a_colleague_who_comes_online_later(support_tidy, chromium):
    running = support_tidy
    shell(running, AGENTS_SETUP, "ready")
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


WAITING_AND_CLOSED = """
from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.support import services
from apps.support.models import Conversation
kb = services.knowledge_base_ensure(name="Help centre")
if not User.objects.filter(username="cedar").exists():
    user_create(username="cedar", password="cedar-pass-123", roles=["support_agent"])
waiting = services.conversation_start(kb_id=kb.pk, customer_name="Sam")
services.customer_message_post(conversation_id=waiting.pk, text="Where is my parcel, heron?")
services.conversation_handoff(conversation_id=waiting.pk, reason="customer_asked")
done = services.conversation_start(kb_id=kb.pk, customer_name="Kim")
services.customer_message_post(conversation_id=done.pk, text="How do I return boots, osprey?")
services.agent_message_post(conversation_id=done.pk, agent=User.objects.get(username="cedar"),
    text="Send them back within 30 days with the label in the box.")
services.conversation_close(conversation_id=done.pk)
services.csat_submit(conversation_id=done.pk, score=5)
print("ids", waiting.pk, done.pk)
"""


def test_the_console_counts_waiting_customers_and_keeps_closed_chats_read_only(
    support_tidy, chromium
):
    running = support_tidy
    waiting_id, closed_id = shell(running, WAITING_AND_CLOSED, "ids").split()
    base = running.start_web()
    page = chromium.new_page()
    console_sign_in(page, base, "cedar")

    badge = page.get_by_test_id("waiting-badge")
    badge.filter(has_text="waiting").wait_for(timeout=30000)
    waiting = page.locator('.queue section[data-status="waiting"] li').count()
    assert badge.inner_text() == f"{waiting} waiting"
    assert page.title().startswith(f"({waiting}) ")

    page.locator(f'.queue section[data-status="closed"] li[data-id="{closed_id}"]').click(
        timeout=30000
    )
    page.locator("#messages li", has_text="osprey").wait_for(timeout=30000)
    assert page.get_by_test_id("closed-note").is_visible()
    assert page.locator("#reply").is_disabled()
    assert page.get_by_test_id("conv-csat").inner_text() == "CSAT 5/5"
    assert "rated this conversation 5/5" in page.locator("#messages").inner_text()
    page.locator("#faq-draft").click()
    page.get_by_test_id("notice").filter(has_text="Draft FAQ saved").wait_for(timeout=30000)
    assert page.locator("#error").inner_text() == ""

    page.locator(f'.queue section[data-status="waiting"] li[data-id="{waiting_id}"]').click()
    page.locator("#messages li", has_text="heron").wait_for(timeout=30000)
    assert page.locator("#reply").is_enabled()
    assert not page.get_by_test_id("closed-note").is_visible()
    page.close()


# Counts the tones the console plays: a stand-in AudioContext whose oscillators count `start`.
AUDIO_SPY = """
(() => {
  window.__tones = 0;
  function FakeAudioContext() { this.currentTime = 0; this.destination = {}; }
  FakeAudioContext.prototype.createOscillator = function () {
    return { frequency: { value: 0 }, connect() {}, stop() {}, start() { window.__tones += 1; } };
  };
  FakeAudioContext.prototype.createGain = function () {
    return { gain: { value: 0 }, connect() {} };
  };
  window.AudioContext = FakeAudioContext;
  window.webkitAudioContext = FakeAudioContext;
})();
"""

NEW_WAITING = """
from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
if not User.objects.filter(username="dune").exists():
    user_create(username="dune", password="dune-pass-123", roles=["support_agent"])
for name in {names!r}:
    c = services.conversation_start(kb_id=kb.pk, customer_name=name)
    services.customer_message_post(conversation_id=c.pk, text="I would like a person, please")
    services.conversation_handoff(conversation_id=c.pk, reason="customer_asked")
print("waiting")
"""


def test_a_new_waiting_customer_raises_the_badge_and_title_and_chimes_only_with_sound_on(
    support_tidy, chromium
):
    running = support_tidy
    shell(running, NEW_WAITING.format(names=[]), "waiting")
    base = running.start_web()
    page = chromium.new_page()
    page.add_init_script(AUDIO_SPY)
    console_sign_in(page, base, "dune")
    badge = page.get_by_test_id("waiting-badge")
    waiting = page.locator('.queue section[data-status="waiting"] li')
    before = waiting.count()

    def customers_wait(names: list[str]) -> int:
        shell(running, NEW_WAITING.format(names=names), "waiting")
        expected = before + len(names)
        badge.filter(has_text=f"{expected} waiting").wait_for(timeout=30000)
        return expected

    # Sound off (the default): the badge and the title count the newcomer, and no tone plays.
    assert not page.get_by_test_id("sound-toggle").is_checked()
    count = customers_wait(["Ash"])
    assert waiting.count() == count
    assert page.title().startswith(f"({count}) ")
    assert page.evaluate("() => window.__tones") == 0

    # Sound on: one tone per customer who starts waiting, one at a time.
    page.get_by_test_id("sound-toggle").check()
    before = count
    count = customers_wait(["Bay"])
    assert page.title().startswith(f"({count}) ")
    page.wait_for_function("() => window.__tones === 1", timeout=30000)
    before = count
    count = customers_wait(["Cyd"])
    page.wait_for_function("() => window.__tones === 2", timeout=30000)
    assert page.title().startswith(f"({count}) ")

    # ...and off again: silence, though the counters still rise.
    page.get_by_test_id("sound-toggle").uncheck()
    before = count
    count = customers_wait(["Dee"])
    assert page.title().startswith(f"({count}) ")
    assert page.evaluate("() => window.__tones") == 2
    page.close()
