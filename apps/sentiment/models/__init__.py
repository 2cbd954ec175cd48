"""Sentiment models by sub-domain: documents (sources, documents, scores, watchlist, trend
buckets), alerts (rules, alerts, unsubscribes, email deliveries), training (corrections,
labelled sets, import jobs). Everything is re-exported here, so `apps.sentiment.models.X` and
the migrations' references keep working."""

from .alerts import Alert, AlertRule, EmailDelivery, Unsubscribe, _token
from .documents import Aggregate, Document, DocumentEntity, Entity, Score, Source
from .training import Correction, ImportJob, LabelledSentence, LabelledSet, TopicCorrection

__all__ = [
    "Aggregate",
    "Alert",
    "AlertRule",
    "Correction",
    "Document",
    "DocumentEntity",
    "EmailDelivery",
    "Entity",
    "ImportJob",
    "LabelledSentence",
    "LabelledSet",
    "Score",
    "Source",
    "TopicCorrection",
    "Unsubscribe",
    "_token",
]
