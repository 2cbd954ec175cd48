"""The checkout: stock leaves the shelf and each sale is recorded as a purchase."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from ..models import Event, Item
from ._common import catalog_changed
from .events import event_record
from .shoppers import Shopper


@dataclass(frozen=True)
class CheckoutResult:
    """What a checkout sold, what it refused (title, "withdrawn" or "short", in cart order) and
    the cart that remains: unsold lines stay for the shopper, withdrawn and deleted items go."""

    bought: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    cart: dict[str, int] = field(default_factory=dict)


@transaction.atomic
def checkout_complete(*, shopper: Shopper, cart: dict[str, int]) -> CheckoutResult:
    """Sell every line of the cart that is in stock; each sale becomes a purchase event."""
    remaining = dict(cart)
    bought: list[str] = []
    refused: list[tuple[str, str]] = []
    # The model's order (title), with the id breaking ties, so that two checkouts lock the same
    # rows in the same order and cannot deadlock.
    items = list(Item.objects.filter(pk__in=[int(k) for k in cart]).order_by("title", "pk"))
    for item in items:
        if not item.active:
            # Withdrawn from sale: it cannot be bought, so it leaves the cart (with a word why).
            remaining.pop(str(item.pk), None)
            refused.append((item.title, "withdrawn"))
            continue
        quantity = remaining[str(item.pk)]
        # A conditional decrement: two checkouts can never sell the same last unit.
        sold = Item.objects.filter(pk=item.pk, stock__gte=quantity).update(
            stock=F("stock") - quantity
        )
        if sold:
            event_record(shopper=shopper, kind=Event.Kind.PURCHASE, item_id=item.pk)
            bought.append(item.title)
            remaining.pop(str(item.pk), None)
        else:
            refused.append((item.title, "short"))
    known = {str(i.pk) for i in items}
    catalog_changed()
    return CheckoutResult(
        bought=bought,
        refused=refused,
        # Items deleted since they were put in the cart leave it too.
        cart={k: q for k, q in remaining.items() if k in known},
    )
