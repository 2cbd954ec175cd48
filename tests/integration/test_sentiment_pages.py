"""Real browser on the analyst pages: the trend chart's subject picker and times, the alert list.

Only daphne is started (no worker): the chart reads hourly aggregates written by the setup, and
the alerts are rows the setup made.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Stack, sign_in

pytestmark = [pytest.mark.integration]

SETUP = """
import hashlib
from datetime import timedelta
from django.utils import timezone
from apps.accounts.services import user_create
from apps.sentiment import services
from apps.sentiment.models import Aggregate, Alert, AlertRule, Document, Source
user_create(username="{user}", password="{user}-pw", roles=["analyst"])
from apps.accounts.models import User
analyst = User.objects.get(username="{user}")
osprey = services.entity_upsert(name="Osprey Freight {user}", ticker="")
hour = timezone.now().replace(minute=0, second=0, microsecond=0)
for kind, key, negative in (("entity", str(osprey.pk), 7), ("topic", "earnings", 3)):
    Aggregate.objects.update_or_create(
        subject_kind=kind, subject_key=key, bucket_start=hour - timedelta(hours=30),
        defaults=dict(n=negative, n_negative=negative, score_sum=-negative * 0.8),
    )
rule = AlertRule.objects.create(owner=analyst, name="O'Hare <chatter> {user}", metric="volume")
for i in range(3):
    Alert.objects.create(
        rule=rule, subject_kind="entity", subject_key=f"{i}", subject_label=f"Company {user} {i}",
        metric="volume", value=12, baseline=3, window_start=hour, window_end=hour,
        reason="12 texts in 6 h, usually 3", episode_open=False,
    )
source = services.source_get_or_create(name="Wire {user}", kind=Source.Kind.API)
doc = Document.objects.create(source=source, title="Osprey Freight {user} beats", body="x",
                              published_at=timezone.now(),
                              content_hash=hashlib.sha256(b"{user}").hexdigest())
print("setup", osprey.pk, doc.pk)
"""


def _arrange(stack: Stack, user: str) -> tuple[str, str, str]:
    setup = stack.manage("shell", "-c", SETUP.replace("{user}", user), timeout=300)
    assert "setup" in setup.stdout, setup.stdout + setup.stderr
    entity_id, doc_id = setup.stdout.split("setup")[-1].split()
    return stack.start_web(), entity_id, doc_id


def _console_error(errors: list[str], message: Any) -> None:
    # The site has no favicon; the browser's own request for one is not a page's error.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        errors.append(f"{message.text} at {message.location.get('url')}")


CHART = "Chart.getChart(document.getElementById('trend-chart'))"
DRAWN = f"() => window.Chart && {CHART}"


def _negatives(page: Any) -> int:
    return int(
        page.evaluate(
            "() => { const c = Chart.getChart(document.getElementById('trend-chart'));"
            " return c ? c.data.datasets[0].data.reduce((a, b) => a + b, 0) : -1; }"
        )
    )


def test_the_chart_shows_the_last_picked_subject_in_the_site_time_zone(
    running: Stack, chromium: Any
) -> None:
    base, entity_id, _doc_id = _arrange(running, "chart-analyst")
    # An analyst in New York; the site's times (feed, alerts) are in UTC.
    context = chromium.new_context(timezone_id="America/New_York", locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: _console_error(errors, m))
    sign_in(page, base, "chart-analyst", "chart-analyst-pw", "/sentiment/")
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('trend-chart'))"
    )
    labels = page.evaluate(
        "() => Chart.getChart(document.getElementById('trend-chart')).data.labels"
    )

    held: list[Any] = []
    page.route(f"**/api/sentiment/trends/?subject=entity%3A{entity_id}*", lambda r: held.append(r))
    page.select_option("#subject-picker", f"entity:{entity_id}")
    while not held:  # the company's answer is held back: it arrives after the next pick's
        page.wait_for_timeout(50)
    page.select_option("#subject-picker", "topic:earnings")
    page.wait_for_function(f"() => {CHART}.data.datasets[0].data.reduce((a, b) => a + b, 0) === 3")
    with page.expect_response(lambda r: f"entity%3A{entity_id}" in r.url):
        held[0].continue_()
    page.wait_for_timeout(500)
    shown_after_late_answer = _negatives(page)
    address = page.url
    page.reload()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.getElementById('trend-chart'))"
    )
    page.wait_for_timeout(300)

    assert {label.split(", ")[-1] for label in labels} <= {"00:00", "06:00", "12:00", "18:00"}
    assert shown_after_late_answer == 3  # the topic picked last, not the company's late answer
    assert "subject=topic%3Aearnings" in address or "subject=topic:earnings" in address
    assert page.locator("#subject-picker").input_value() == "topic:earnings"
    assert _negatives(page) == 3
    assert page.locator("#trend-error").is_hidden()
    assert errors == []
    context.close()


def test_the_alert_list_pages_work_in_the_browser_without_script_errors(
    running: Stack, chromium: Any
) -> None:
    base, entity_id, doc_id = _arrange(running, "list-analyst")
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: _console_error(errors, m))
    sign_in(page, base, "list-analyst", "list-analyst-pw", "/sentiment/alerts/")
    row = page.locator("#alerts tr", has_text="Company list-analyst 1")
    row.get_by_role("button", name="Resolve").click()
    page.locator("#alerts tr", has_text="Company list-analyst 1").filter(
        has_text="Resolved"
    ).wait_for(timeout=10000)
    with page.expect_navigation():
        page.select_option("select[name=status]", "resolved")
    resolved = page.locator("#alerts tbody tr").all_inner_texts()
    page.goto(f"{base}/sentiment/")
    with page.expect_response(lambda r: "label=negative" in r.url):
        page.select_option("#feed-filters select[name=label]", "negative")
    filtered_address = page.url
    page.reload()
    label_after_reload = page.locator("#feed-filters select[name=label]").input_value()

    page.goto(f"{base}/sentiment/rules/")
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Delete").click()
    page.wait_for_timeout(500)
    kept = page.get_by_role("link", name="O'Hare <chatter> list-analyst").count()
    page.once("dialog", lambda d: d.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Delete").click()
    deleted_message = page.locator(".messages:not(#training-notices)").inner_text()

    for path in (
        "/sentiment/",
        f"/sentiment/?subject=entity:{entity_id}",
        f"/sentiment/documents/{doc_id}/",
        "/sentiment/watchlist/",
        "/sentiment/rules/",
        "/sentiment/sources/",
        "/sentiment/upload/",
        "/sentiment/training/",
    ):
        response = page.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")

    assert "label=negative" in filtered_address
    assert label_after_reload == "negative"
    assert dialogs == ["Delete the rule “O'Hare <chatter> list-analyst” and all its alerts?"]
    assert kept == 1  # dismissed: nothing deleted
    assert "Rule deleted." in deleted_message
    assert len(resolved) == 1 and "Company list-analyst 1" in resolved[0]
    assert errors == []
    page.close()


ALERT_SETUP = """
from datetime import timedelta
from django.utils import timezone
from apps.accounts.models import User
from apps.sentiment import services
from apps.sentiment.models import Aggregate, Alert, AlertRule
analyst = User.objects.get(username="{user}")
heron = services.entity_upsert(name="Heron Shipping {user}", ticker="")
hour = timezone.now().replace(minute=0, second=0, microsecond=0)
for back, n in ((30, 7), (12, 1)):
    Aggregate.objects.update_or_create(
        subject_kind="entity", subject_key=str(heron.pk), bucket_start=hour - timedelta(hours=back),
        defaults=dict(n=n, n_negative=n, score_sum=-n * 0.8),
    )
rule = AlertRule.objects.create(owner=analyst, name="Heron {user}", window_hours=6, min_volume=5)
alert = Alert.objects.create(
    rule=rule, subject_kind="entity", subject_key=str(heron.pk), subject_label="Heron",
    metric="negative_share", value=1.0, baseline=0.1, window_start=hour - timedelta(hours=30),
    window_end=hour - timedelta(hours=24), reason="spike", episode_open=False,
)
print("alert", alert.pk)
"""


def test_the_alert_page_shades_the_window_that_fired_and_leaves_thin_windows_as_gaps(
    running: Stack, chromium: Any
) -> None:
    base, _entity_id, _doc_id = _arrange(running, "shade-analyst")
    made = running.manage("shell", "-c", ALERT_SETUP.replace("{user}", "shade-analyst"))
    alert_id = made.stdout.split("alert")[-1].split()[0]
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: _console_error(errors, m))
    sign_in(page, base, "shade-analyst", "shade-analyst-pw", f"/sentiment/alerts/{alert_id}/")
    page.wait_for_function(DRAWN)
    shaded = page.evaluate(f"() => {CHART}.options.plugins.alertWindow.marks")
    line = page.evaluate(f"() => {CHART}.data.datasets[3].data")
    volumes = page.evaluate(f"() => {CHART}.data.datasets[0].data")
    gaps_note = page.locator("#trend-gaps").inner_text()

    assert shaded and all(volumes[i] == 7 for i in shaded if volumes[i])
    assert [v for v in line if v is not None] == [1]  # the 7-text window; the 1-text one is a gap
    assert volumes.count(1) == 1 and line[volumes.index(1)] is None
    assert "fewer than 3 texts" in gaps_note
    assert page.get_by_role("link", name="The texts of this window in the live feed").count() == 1
    assert errors == []
