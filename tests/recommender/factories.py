"""Rows of the recommender as tests need them: catalog items and shoppers' events."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils import timezone

from apps.recommender.models import Event, Item


class ItemFactory(factory.django.DjangoModelFactory):
    """An active item in stock (not embedded: call services.items_embed where search matters)."""

    class Meta:
        model = Item

    sku = factory.Sequence(lambda n: f"SKU-{n}")
    title = factory.Sequence(lambda n: f"Item {n}")
    category = "outdoor"
    price = Decimal("20.00")
    stock = 5


class EventFactory(factory.django.DjangoModelFactory):
    """A view of an item, now (no user or visitor id unless given)."""

    class Meta:
        model = Event

    event_id = factory.Sequence(lambda n: f"event-{n}")
    kind = Event.Kind.VIEW
    item = factory.SubFactory(ItemFactory)
    created = factory.LazyFunction(timezone.now)
