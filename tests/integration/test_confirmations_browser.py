"""Real browser: high-stakes buttons (stop and ship an experiment, promote and roll back a model)
ask first, saying what will happen; cancelling changes nothing. The experiment chart draws the
confidence interval as an error bar on one bar per variant, not as bars of its own."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import sign_in
from tests.integration.support import shell

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXPERIMENT = """
from apps.accounts.models import User
from apps.accounts.services import user_create
from apps.recommender import services
from apps.recommender.models import Experiment
if not User.objects.filter(username="merch").exists():
    user_create(username="merch", password="merch-pass-123", roles=["merchandiser"])
for running in Experiment.objects.filter(status="running"):
    services.experiment_stop(experiment_id=running.pk)
e = services.experiment_create(name="{name}", variants=[
    {{"name": "control", "strategy": "ranker"}}, {{"name": "treatment", "strategy": "text"}}])
services.experiment_start(experiment_id=e.pk)
print("experiment", e.pk)
"""

STATUS = """
from apps.recommender.models import Experiment
print("status", Experiment.objects.get(pk={pk}).status)
"""


def test_stopping_or_shipping_an_experiment_asks_first_and_cancel_changes_nothing(
    running, chromium
):
    experiment_id = shell(
        running, EXPERIMENT.format(name=f"conf-{uuid.uuid4().hex[:6]}"), "experiment"
    )
    base = running.start_web()
    page = chromium.new_page()
    sign_in(page, base, "merch", "merch-pass-123", f"/shop/experiments/{experiment_id}/")
    page.locator("#report").wait_for(timeout=30000)
    dialog = page.get_by_test_id("confirm-dialog")

    page.get_by_role("button", name="Ship treatment").click()
    dialog.wait_for(state="visible", timeout=10000)
    assert "becomes the default for every shopper" in dialog.inner_text()
    page.get_by_test_id("confirm-cancel").click()
    dialog.wait_for(state="hidden", timeout=10000)
    assert shell(running, STATUS.format(pk=experiment_id), "status") == "running"

    page.get_by_role("button", name="Stop", exact=True).click()
    dialog.wait_for(state="visible", timeout=10000)
    assert "Every shopper goes back to the shop's default" in dialog.inner_text()
    page.get_by_test_id("confirm-ok").click()
    page.wait_for_load_state("load")
    page.locator("h1", has_text="Stopped").wait_for(timeout=30000)
    assert shell(running, STATUS.format(pk=experiment_id), "status") == "stopped"
    page.close()


def test_the_experiment_chart_draws_the_interval_as_an_error_bar(running, chromium):
    experiment_id = shell(
        running, EXPERIMENT.format(name=f"chart-{uuid.uuid4().hex[:6]}"), "experiment"
    )
    base = running.start_web()
    page = chromium.new_page()
    sign_in(page, base, "merch", "merch-pass-123", f"/shop/experiments/{experiment_id}/")
    page.wait_for_function("() => window.Chart && Chart.getChart('ctr-chart')", timeout=30000)

    datasets = page.evaluate("() => Chart.getChart('ctr-chart').data.datasets.map((d) => d.label)")
    axis = page.evaluate("() => Chart.getChart('ctr-chart').options.scales.y.title.text")

    assert datasets == ["CTR (%)"]  # one bar per variant; CI-low and CI-high were bars too
    assert axis == "Click-through rate (%)"
    assert "%" in page.locator("#report").inner_text()
    page.close()
