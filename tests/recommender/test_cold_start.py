"""Cold start: a new shopper's first list comes from what they told us at sign-up (region,
what they shop for) and, before any purchase, from the views of their first visit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.recommender import selectors, services
from apps.recommender.models import ShopperProfile

from .helpers import record

pytestmark = pytest.mark.django_db
KNOWN = ["Books", "Kitchen", "Outdoor"]


def _signup(name, region="", interests=()):
    return services.shopper_signup(
        username=name,
        password="a-long-passphrase-9",
        region=region,
        interests=list(interests),
        known_categories=KNOWN,
    )


def test_sign_up_stores_region_and_interests_and_refuses_bad_answers(catalog):
    user = _signup("hiker", region="north", interests=["Outdoor", "Books"])

    with pytest.raises(services.SignupError) as refused:
        services.shopper_signup(
            username="HIKER",
            password="123",
            region="mars",
            interests=["Spaceships"],
            known_categories=KNOWN,
        )

    profile = ShopperProfile.objects.get(user=user)
    assert (profile.region, profile.interests) == ("north", ["Books", "Outdoor"])
    assert set(refused.value.errors) == {"username", "password", "region", "interests"}
    assert get_user_model().objects.filter(username__iexact="hiker").count() == 1


def test_a_new_account_starts_from_its_region_and_interests(catalog):
    # Shoppers of the north buy the kettle; the crowd elsewhere buys the grinder.
    for n in range(3):
        northerner = _signup(f"north{n}", region="north")
        record(services.Shopper(user_id=northerner.pk), "purchase", catalog["KETTLE-1"], n)
    for n in range(6):
        record(services.Shopper(visitor_id=f"crowd{n}"), "purchase", catalog["GRIND-1"], n)
    newcomer = _signup("newcomer", region="north", interests=["Books"])

    result = selectors.recommendations_get(shopper=services.Shopper(user_id=newcomer.pk), n=4)

    by_id = {i.id: i for i in result.items}
    assert result.items[0].id == catalog["KETTLE-1"].pk
    assert by_id[catalog["KETTLE-1"].pk].reason == "Popular in your region"
    books = [i for i in result.items if i.source == "interest"]
    assert books and all(i.category == "Books" for i in books)
    assert books[0].reason == "Because you shop for Books"
    assert result.label == "Picked for you"


def test_first_session_views_make_a_for_you_list_before_any_purchase(catalog):
    visitor = services.Shopper(visitor_id="first-session")
    before = selectors.recommendations_get(shopper=visitor, n=4)
    record(visitor, "view", catalog["KNIFE-1"], 1, source="tracker")
    record(visitor, "view", catalog["BOARD-1"], 2, source="tracker")

    after = selectors.recommendations_get(shopper=visitor, n=4)

    assert before.label == "Trending now"
    assert after.label == "Recommended for you"
    assert {i.category for i in after.items[:2]} == {"Kitchen"}
    assert any(i.reason.startswith("Because you viewed") for i in after.items)


def test_the_sign_up_page_creates_the_account_signs_in_and_shows_problems(catalog, client):
    record(services.Shopper(visitor_id="x"), "purchase", catalog["BOOK-1"], 1)

    bad = client.post("/shop/join/", {"username": "", "password": "1", "region": "mars"})
    good = client.post(
        "/shop/join/",
        {"username": "reader", "password": "a-long-passphrase-9", "interests": ["Books"]},
    )
    home = client.get("/shop/")

    assert bad.status_code == 400 and "choose a region from the list" in bad.content.decode()
    assert good.status_code == 302
    user = get_user_model().objects.get(username="reader")
    assert ShopperProfile.objects.get(user=user).interests == ["Books"]
    assert home.context["user"] == user
    assert "Because you shop for Books" in home.content.decode()


def test_sign_ups_from_one_address_are_capped(catalog, client):
    from apps.recommender.views.signup import SIGNUPS_PER_HOUR

    answers = [
        client.post("/shop/join/", {"username": f"bot{n}", "password": "a-long-passphrase-9"})
        for n in range(SIGNUPS_PER_HOUR + 1)
    ]

    assert [a.status_code for a in answers[:-1]] == [302] * SIGNUPS_PER_HOUR
    assert answers[-1].status_code == 429
    assert "too many sign-ups" in answers[-1].content.decode()
    assert get_user_model().objects.filter(username__startswith="bot").count() == SIGNUPS_PER_HOUR
