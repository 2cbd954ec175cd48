"""Recording behaviour: tracker batches, and the events the storefront records itself."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import Event, Item, Visitor
from ._common import id_parse, shopper_changed
from .shoppers import Shopper

# Clock skew tolerated on a trusted sender's own event times.
FUTURE_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RecordResult:
    accepted: int
    duplicates: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def _no_nul(value: Any) -> str:
    # PostgreSQL refuses NUL in text; one in a free-text field would fail the whole batch.
    return str(value or "").replace("\x00", "")


def _flag(value: Any) -> bool:
    """A JSON or form boolean: the string "false" is false (bool("false") is not)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value is True or (isinstance(value, int) and value == 1)


TRACKER_PURCHASE_REFUSED = (
    "purchases are recorded by the checkout, not by tracker events; send the other kinds only"
)


def events_record(
    *,
    shopper: Shopper,
    events: list[dict[str, Any]],
    trusted: bool = False,
    source: str = Event.Source.TRACKER,
) -> RecordResult:
    """Store a batch of events. An event id seen before is ignored, so clients may resend.

    Each event: event_id, kind, item (id or sku), optional rating, text, context, experiment,
    variant, from_recommendation, created (ISO time; `trusted` callers only, else now).
    `source` says who recorded them; a purchase from the tracker is refused (an error for that
    event), since purchases feed training and A/B conversion and only the checkout knows them.
    """
    now = timezone.now()
    user_id = shopper.user_id
    if user_id is None and shopper.visitor_id:
        user_id = (
            Visitor.objects.filter(visitor_id=shopper.visitor_id)
            .values_list("user_id", flat=True)
            .first()
        )
    errors: list[dict[str, Any]] = []
    rows: list[Event] = []
    ids_in_batch: set[str] = set()
    item_refs = {str(e.get("item", "")) for e in events if isinstance(e, dict)}
    numeric = [pk for pk in (id_parse(r) for r in item_refs) if pk is not None]
    by_id = {str(pk): pk for pk in Item.objects.filter(pk__in=numeric).values_list("pk", flat=True)}
    by_sku = dict(Item.objects.filter(sku__in=item_refs).values_list("sku", "pk"))
    experiment_ids = [id_parse(e.get("experiment")) for e in events if isinstance(e, dict)]
    # Only a running experiment collects events: a draft has not split anyone yet, and
    # events sent after the stop would change a comparison that is over.
    experiments: dict[int, set[str]] = {}
    if any(pk is not None for pk in experiment_ids):
        # Cycle break: selectors imports services (Shopper, the cache keys).
        from ..selectors import variant_assign

        # A shopper's variant is a hash of who they are; an event claiming another variant
        # (a tampered or replayed tag) would skew the comparison, so it is stored untagged.
        # The visitor's own key counts too: a shopper who signed in since keeps the variant
        # their earlier impressions were shown under.
        keys = {shopper.key, Shopper(visitor_id=shopper.visitor_id).key}
        for key in sorted(keys):
            assigned = variant_assign(shopper_key=key)
            if assigned is not None:
                experiments.setdefault(assigned.experiment_id, set()).add(assigned.name)
    duplicates = 0
    for position, raw in enumerate(events):
        if not isinstance(raw, dict):
            errors.append({"index": position, "error": "an event must be an object"})
            continue
        event_id = str(raw.get("event_id") or "").strip()
        kind = raw.get("kind")
        ref = str(raw.get("item", ""))
        item_pk = by_id.get(ref) or by_sku.get(ref)
        problem = None
        if not event_id or len(event_id) > 80 or "\x00" in event_id:
            problem = "event_id is required (at most 80 characters, no NUL)"
        elif kind not in Event.Kind.values:
            problem = f"unknown kind {kind!r}; one of {', '.join(Event.Kind.values)}"
        elif kind == Event.Kind.PURCHASE and source == Event.Source.TRACKER:
            problem = TRACKER_PURCHASE_REFUSED
        elif item_pk is None:
            problem = f"unknown item {ref!r}"
        if problem:
            errors.append({"index": position, "event_id": event_id, "error": problem})
            continue
        assert kind is not None and item_pk is not None  # both checked just above
        if event_id in ids_in_batch:
            duplicates += 1
            continue
        ids_in_batch.add(event_id)
        rating = raw.get("rating")
        if rating is not None:
            try:
                rating = float(rating)
            except (TypeError, ValueError):
                errors.append({"index": position, "event_id": event_id, "error": "bad rating"})
                continue
            if not 0 <= rating <= 5:
                errors.append(
                    {
                        "index": position,
                        "event_id": event_id,
                        "error": "rating must be between 0 and 5",
                    }
                )
                continue
        created = now
        if trusted and raw.get("created"):
            try:
                parsed = parse_datetime(str(raw["created"]))
            except ValueError:
                parsed = None
            if not isinstance(parsed, datetime):
                errors.append(
                    {
                        "index": position,
                        "event_id": event_id,
                        "error": "created must be an ISO 8601 time",
                    }
                )
                continue
            created = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
            # A future time would outweigh every real event (decay grows past 1) for ever.
            if created > now + FUTURE_SKEW:
                errors.append(
                    {"index": position, "event_id": event_id, "error": "created is in the future"}
                )
                continue
        experiment_id = id_parse(raw.get("experiment"))
        variant = str(raw.get("variant") or "")
        if experiment_id not in experiments or variant not in experiments.get(experiment_id, ()):
            experiment_id, variant = None, ""
        rows.append(
            Event(
                event_id=event_id,
                kind=kind,
                source=source,
                item_id=item_pk,
                user_id=user_id,
                visitor_id=shopper.visitor_id[:64],
                rating=rating,
                text=_no_nul(raw.get("text"))[:5000],
                context=_no_nul(raw.get("context"))[:80],
                experiment_id=experiment_id,
                variant=variant[:40],
                from_recommendation=_flag(raw.get("from_recommendation")),
                created=created,
            )
        )
    existing = set(
        Event.objects.filter(event_id__in=[r.event_id for r in rows]).values_list(
            "event_id", flat=True
        )
    )
    fresh = [r for r in rows if r.event_id not in existing]
    duplicates += len(rows) - len(fresh)
    # ignore_conflicts covers a concurrent resend of the same ids between the check and insert.
    Event.objects.bulk_create(fresh, ignore_conflicts=True)
    if any(r.kind != Event.Kind.IMPRESSION for r in fresh):
        shopper_changed(shopper_key=shopper.key)
        if user_id:
            shopper_changed(shopper_key=Shopper(user_id=user_id).key)
    return RecordResult(accepted=len(fresh), duplicates=duplicates, errors=errors)


def event_record(*, shopper: Shopper, kind: str, item_id: int, **extra: Any) -> RecordResult:
    """One event the storefront server records itself (add to cart, checkout purchase, review)
    with a fresh id."""
    payload = {"event_id": uuid.uuid4().hex, "kind": kind, "item": item_id, **extra}
    if kind == Event.Kind.PURCHASE and "experiment" not in extra:
        # Cycle break: selectors imports services (Shopper, the cache keys).
        from ..selectors import variant_assign

        assigned = variant_assign(shopper_key=shopper.key)
        if assigned:
            payload["experiment"], payload["variant"] = assigned.experiment_id, assigned.name
    return events_record(shopper=shopper, events=[payload], source=Event.Source.STOREFRONT)
