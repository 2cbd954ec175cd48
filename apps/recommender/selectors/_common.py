"""What every selectors sub-module reads: the settings row and the events that count."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ..models import Event, RecommenderSettings

# A purchase counts (trending, histories, ranker training) only when this server recorded it:
# the checkout, or a merchandiser's import. Old purchases a client sent through the tracker
# stay stored but weigh nothing. A/B conversion counts checkout purchases alone.
PURCHASE_SOURCES = (Event.Source.STOREFRONT, Event.Source.IMPORT)


def events_counted() -> QuerySet[Event]:
    """The events that may weigh in recommendations and training."""
    return Event.objects.filter(~Q(kind=Event.Kind.PURCHASE) | Q(source__in=PURCHASE_SOURCES))


def settings_get() -> RecommenderSettings:
    current, _ = RecommenderSettings.objects.get_or_create(pk=1)
    return current
