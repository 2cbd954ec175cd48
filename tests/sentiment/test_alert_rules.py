"""Alert rule validation on the rules page, the API and the admin: thresholds within the metric's
range, cooldowns of at most a year, and how the rules page shows a threshold."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.sentiment import services
from apps.sentiment.admin import RuleAdminForm
from apps.sentiment.forms import RuleForm
from apps.sentiment.models import AlertRule
from apps.sentiment.serializers import RuleSerializer
from tests.sentiment.conftest import rule_create, rule_form


@pytest.mark.parametrize(
    ("metric", "threshold", "ok"),
    [
        ("negative_share", "40", False),  # meant 40 %: a share never reaches 40
        ("negative_share", "0.4", True),
        ("mean_score_drop", "-3", False),
        ("mean_score_drop", "-0.2", True),
        ("volume", "-1", False),
        ("volume", "50", True),
    ],
)
def test_a_threshold_outside_the_metrics_range_is_refused(analyst_client, metric, threshold, ok):  # type: ignore[no-untyped-def]
    form = RuleForm(rule_form(metric=metric, mode="threshold", threshold=threshold))
    api = analyst_client.post(
        "/api/sentiment/rules/",
        {"name": "r", "metric": metric, "mode": "threshold", "threshold": float(threshold)},
        content_type="application/json",
    )

    assert form.is_valid() is ok
    assert (api.status_code == 201) is ok
    if not ok:
        assert "threshold" in form.errors and "threshold" in api.json()


def test_changing_only_the_metric_of_a_threshold_rule_is_checked_too(analyst_client, analyst):  # type: ignore[no-untyped-def]
    rule = rule_create(analyst, [], metric="volume", mode="threshold", threshold=40)

    response = analyst_client.patch(
        f"/api/sentiment/rules/{rule.pk}/",
        {"metric": "negative_share"},
        content_type="application/json",
    )

    rule.refresh_from_db()
    assert response.status_code == 400 and "threshold" in response.json()
    assert rule.metric == "volume"


def test_the_rules_page_shows_which_way_a_threshold_fires(analyst_client, analyst):  # type: ignore[no-untyped-def]
    rule_create(
        analyst, [], name="Drop", metric="mean_score_drop", mode="threshold", threshold=-0.2
    )

    page = analyst_client.get("/sentiment/rules/").content.decode()

    assert "≤ -0.2" in page and "≥ -0.2" not in page


def test_a_cooldown_longer_than_a_year_is_refused_on_the_page_and_in_the_api(  # type: ignore[no-untyped-def]
    analyst_client,
) -> None:
    page = analyst_client.post(
        reverse("sentiment:rules"),
        {
            "name": "Quiet for ever",
            "metric": "negative_share",
            "mode": "spike",
            "sensitivity": 3,
            "window_hours": 6,
            "min_volume": 5,
            "cooldown_hours": 99_999_999,
            "delivery": "none",
            "active": "on",
        },
    )
    api = analyst_client.post(
        "/api/sentiment/rules/",
        {"name": "Quiet for ever", "cooldown_hours": 99_999_999},
        content_type="application/json",
    )

    assert page.status_code == 200 and "at most 8760 hours" in page.content.decode()
    assert api.status_code == 400 and "at most 8760 hours" in api.json()["cooldown_hours"][0]
    assert not AlertRule.objects.exists()


def test_the_admin_checks_a_rule_like_the_page(admin_client, analyst) -> None:  # type: ignore[no-untyped-def]
    form = {
        "owner": analyst.pk,
        "name": "Percent by mistake",
        "metric": "negative_share",
        "mode": "threshold",
        "sensitivity": 3,
        "threshold": 40,
        "window_hours": 6,
        "min_volume": 5,
        "cooldown_hours": 12,
        "delivery": "none",
        "active": "on",
    }

    refused = admin_client.post(reverse("admin:sentiment_alertrule_add"), form)
    saved = admin_client.post(reverse("admin:sentiment_alertrule_add"), {**form, "threshold": 0.4})

    assert refused.status_code == 200
    assert "a share above 0 and at most 1" in refused.content.decode()
    assert saved.status_code == 302
    assert list(AlertRule.objects.values_list("threshold", "owner_id")) == [(0.4, analyst.pk)]


def test_the_rules_page_the_api_and_the_admin_edit_the_fields_the_rule_service_saves():
    writable = {name for name, field in RuleSerializer().fields.items() if not field.read_only}

    assert set(RuleForm().fields) == set(services.RULE_FIELDS)
    assert writable == set(services.RULE_FIELDS)
    assert set(RuleAdminForm().fields) == {"owner", *services.RULE_FIELDS}
