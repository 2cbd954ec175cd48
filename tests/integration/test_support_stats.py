"""Real browser: the support statistics page draws its trend chart as bars while there are only
a day or two of data (a line would be a dot or two), and as a line once there are more days."""

from __future__ import annotations

import pytest

from tests.integration.conftest import sign_in
from tests.integration.support import shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# An agent, one conversation handed to a person and one the bot closed, both today.
TODAY = """
from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.support import services
kb = services.knowledge_base_ensure(name="Help centre")
if not User.objects.filter(username="ember").exists():
    user_create(username="ember", password="ember-pass-123", roles=["support_agent"])
handed = services.conversation_start(kb_id=kb.pk, customer_name="Lior")
services.customer_message_post(conversation_id=handed.pk, text="A person, please")
services.conversation_handoff(conversation_id=handed.pk, reason="customer_asked")
services.conversation_close(conversation_id=handed.pk)
solved = services.conversation_start(kb_id=kb.pk, customer_name="Noor")
services.customer_message_post(conversation_id=solved.pk, text="When does my card come?")
services.conversation_close(conversation_id=solved.pk)
print("ids", handed.pk, solved.pk)
"""

# Two more conversations, started two and three days ago.
EARLIER = """
from datetime import timedelta
from django.utils import timezone
from apps.support import services
from apps.support.models import Conversation
kb = services.knowledge_base_ensure(name="Help centre")
for days in (2, 3):
    c = services.conversation_start(kb_id=kb.pk, customer_name=f"Old {days}")
    services.customer_message_post(conversation_id=c.pk, text="Can I change my address?")
    services.conversation_close(conversation_id=c.pk)
    Conversation.objects.filter(pk=c.pk).update(created_at=timezone.now() - timedelta(days=days))
print("earlier")
"""

CHART = """
() => {
  const chart = Chart.getChart(document.getElementById("support-trend"));
  if (!chart) return null;
  return {
    type: chart.config.type,
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
    // Where the animation ends (the bars grow from the axis when the page opens).
    drawn: chart.getDatasetMeta(0).data.map((el) => el.getProps(["width", "height"], true)),
    height: chart.height,
  };
}
"""


def _chart(page, base):
    page.goto(f"{base}/support/stats/")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('support-trend'))",
        timeout=30000,
    )
    days = page.locator("tbody tr td:first-child").all_inner_texts()
    return page.evaluate(CHART), days


def test_the_stats_chart_draws_bars_for_a_short_range_and_a_line_for_a_longer_one(
    support_tidy, chromium
):
    running = support_tidy
    shell(running, TODAY, "ids")
    base = running.start_web()
    page = chromium.new_page()
    sign_in(page, base, "ember", "ember-pass-123", "/support/stats/")

    chart, days = _chart(page, base)
    assert len(days) == 1, days
    assert chart["type"] == "bar"
    assert chart["labels"] == days
    handoff, resolved, _csat = chart["datasets"]
    assert handoff["label"] == "Handoff rate (%)" and 0 < handoff["data"][0] < 100
    assert resolved["label"] == "Bot resolution rate (%)" and 0 < resolved["data"][0] < 100
    # The bar is drawn on a chart of real height: it has a width and a height, not a dot.
    assert chart["height"] > 100
    assert chart["drawn"][0]["width"] > 10 and chart["drawn"][0]["height"] > 10

    shell(running, EARLIER, "earlier")
    chart, days = _chart(page, base)
    assert len(days) == 3, days
    assert chart["type"] == "line"
    assert chart["labels"] == days
    page.close()
