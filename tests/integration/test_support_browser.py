"""Real browser: an agent signs in and picks a waiting conversation up in the console."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sign_in

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
