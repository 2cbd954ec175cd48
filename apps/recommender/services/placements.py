"""The merchandiser's pins (an item at a rail position) and boosts (a factor until a time)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Boost, Item, Pin, Rail
from ._common import catalog_changed

PIN_POSITION_MAX = 50
BOOST_FACTOR = (0.1, 10.0)
BOOST_DAYS_MAX = 365


class PlacementError(ValueError):
    """A pin or boost that cannot be saved; `errors` says what is wrong per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _item(item_id: Any, errors: dict[str, str]) -> Item | None:
    item = Item.objects.filter(pk=item_id, active=True).first() if str(item_id).isdigit() else None
    if item is None:
        errors["item"] = f"no active item has id {str(item_id)[:20]!r}"
    return item


@transaction.atomic
def pin_set(*, item_id: Any, rail: str, position: Any, user: Any = None) -> Pin:
    """Hold an item at a rail's position (replacing whatever held that position, and the
    item's earlier pin on that rail)."""
    errors: dict[str, str] = {}
    item = _item(item_id, errors)
    if rail not in Rail.values:
        errors["rail"] = f"rail must be one of {', '.join(Rail.values)}"
    try:
        place = int(position)
    except (TypeError, ValueError):
        place = 0
    if not 1 <= place <= PIN_POSITION_MAX:
        errors["position"] = f"position must be a whole number from 1 to {PIN_POSITION_MAX}"
    if errors or item is None:
        raise PlacementError(errors)
    Pin.objects.filter(rail=rail, position=place).delete()
    Pin.objects.filter(rail=rail, item=item).delete()
    pin = Pin.objects.create(item=item, rail=rail, position=place, created_by=_who(user))
    catalog_changed()
    return pin


@transaction.atomic
def boost_set(
    *,
    item_id: Any,
    factor: Any,
    days: Any = None,
    expires_at: datetime | None = None,
    user: Any = None,
) -> Boost:
    """Multiply an item's standing among ranked items by `factor` until `expires_at` (or for
    `days`); a new boost of the same item replaces the old one."""
    errors: dict[str, str] = {}
    item = _item(item_id, errors)
    try:
        value = float(factor)
    except (TypeError, ValueError):
        value = math.nan
    low, high = BOOST_FACTOR
    if not (math.isfinite(value) and low <= value <= high):
        errors["factor"] = f"factor must be a number from {low:g} to {high:g} (1 = no change)"
    now = timezone.now()
    if expires_at is None:
        try:
            length = float(days)
        except (TypeError, ValueError):
            length = math.nan
        if not (math.isfinite(length) and 0 < length <= BOOST_DAYS_MAX):
            errors["days"] = f"days must be a number above 0 and at most {BOOST_DAYS_MAX}"
        else:
            expires_at = now + timedelta(days=length)
    elif not now < expires_at <= now + timedelta(days=BOOST_DAYS_MAX):
        errors["expires_at"] = f"expires_at must be in the next {BOOST_DAYS_MAX} days"
    if errors or item is None or expires_at is None:
        raise PlacementError(errors)
    Boost.objects.filter(item=item).delete()
    boost = Boost.objects.create(
        item=item, factor=value, expires_at=expires_at, created_by=_who(user)
    )
    catalog_changed()
    return boost


def placement_delete(*, kind: str, placement_id: int) -> bool:
    """Remove a pin or a boost; False when there was none."""
    model = Pin if kind == "pin" else Boost
    deleted, _ = model.objects.filter(pk=placement_id).delete()
    if deleted:
        catalog_changed()
    return bool(deleted)


def _who(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None
