"""The watchlist: a company an alert rule watches alone is not deleted from under the rule."""

from __future__ import annotations

from apps.sentiment import selectors, services
from apps.sentiment.models import Entity
from tests.sentiment.conftest import rule_create


def test_deleting_a_rules_only_company_does_not_widen_it_to_the_whole_watchlist(  # type: ignore[no-untyped-def]
    analyst_client, analyst, kestrel
):
    other = services.entity_upsert(name="Acme Corp", ticker="ACME")
    rule = rule_create(analyst, [kestrel])

    response = analyst_client.delete(f"/api/sentiment/watchlist/{kestrel.pk}/")

    rule.refresh_from_db()
    subjects = selectors.rule_subjects(rule)
    assert ("entity", str(other.pk)) not in subjects
    assert response.status_code == 400 and "Kestrel" in response.json()["detail"]
    assert Entity.objects.filter(pk=kestrel.pk).exists()
    # A company no rule watches is deleted as before.
    assert analyst_client.delete(f"/api/sentiment/watchlist/{other.pk}/").status_code == 204


def test_the_admin_refuses_to_delete_the_companies_a_rule_watches_alone(  # type: ignore[no-untyped-def]
    admin_client, analyst, kestrel
):
    acme = services.entity_upsert(name="Acme Corp", ticker="ACME")
    lone = services.entity_upsert(name="Lone Co", ticker="LONE")
    rule_create(analyst, [kestrel, acme], name="Two airlines")

    both = admin_client.post(
        "/admin/sentiment/entity/",
        {"action": "delete_selected", "_selected_action": [kestrel.pk, acme.pk], "post": "yes"},
    )
    one = admin_client.post(f"/admin/sentiment/entity/{kestrel.pk}/delete/", {"post": "yes"})

    # Both together would leave the rule no company (the whole watchlist); one leaves it Acme.
    assert "Two airlines" in both.content.decode()
    assert one.status_code == 302
    assert not Entity.objects.filter(pk=kestrel.pk).exists()
    assert Entity.objects.filter(pk=acme.pk).exists()
    assert (
        admin_client.post(
            "/admin/sentiment/entity/",
            {"action": "delete_selected", "_selected_action": [lone.pk], "post": "yes"},
        ).status_code
        == 302
    )
    assert not Entity.objects.filter(pk=lone.pk).exists()
