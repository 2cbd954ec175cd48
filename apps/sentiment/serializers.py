"""DRF serializers: what the API accepts and returns (and what the OpenAPI schema shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import selectors, services
from .feeds import FeedError, feed_url_check
from .models import Alert, AlertRule, Document, DocumentEntity, Entity, Score, Source
from .spikes import MAX_COOLDOWN_HOURS, threshold_problem
from .text import TOPICS, ticker_normalise
from .uploads import LABELS, datetime_parse


@extend_schema_field(OpenApiTypes.DATETIME)
class PublishedAtField(serializers.Field):
    """A pushed document's time as an upload reads it: ISO 8601 (naive means UTC, whatever the
    site's TIME_ZONE) or a Unix timestamp."""

    def to_internal_value(self, data: Any) -> datetime | None:
        try:
            return datetime_parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class DocumentInSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=500, required=False, allow_blank=True)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    title = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True)
    published_at = PublishedAtField(
        required=False,
        allow_null=True,
        help_text="ISO 8601 (naive means UTC) or a Unix timestamp; a future time is stored as now",
    )
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("title") or "").strip() and not (attrs.get("body") or "").strip():
            raise serializers.ValidationError("a document needs a title or a body")
        return attrs


class IngestSerializer(serializers.Serializer):
    source = serializers.CharField(  # type: ignore[assignment]  # declared field, not Field.source
        max_length=200, required=False, default="API", help_text="source name (created if new)"
    )
    # Items are checked one by one (DocumentInSerializer), so that an item that is not an
    # object is reported with its index instead of refusing the whole batch.
    documents = serializers.ListField(
        child=serializers.JSONField(allow_null=True),
        min_length=1,
        max_length=1000,
        help_text="one or more document objects; bad ones are reported by index, good ones "
        "stored. The body may also be a bare JSON array of documents.",
    )


class LineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="line number (uploads) or index + 1 (API batch)")
    error = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    source_id = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    errors = LineErrorSerializer(many=True)  # type: ignore[assignment]  # not Serializer.errors


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV with a header row (title, body/text, url, "
        "published_at, external_id, language) or JSONL"
    )
    source = serializers.CharField(  # type: ignore[assignment]  # declared field, not Field.source
        max_length=200, required=False, default="Uploads"
    )


class ScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = Score
        fields = [
            "label",
            "positive",
            "neutral",
            "negative",
            "value",
            "model_version",
            "topics",
            "sentences",
            "sentences_skipped",
            "scored_at",
        ]


class EntityBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Entity
        fields = ["id", "name", "ticker"]


class CompanyScoreSerializer(serializers.ModelSerializer):
    """One company's sentiment in a document (its passages when the text names several)."""

    id = serializers.IntegerField(source="entity.id", read_only=True)
    name = serializers.CharField(source="entity.name", read_only=True)
    ticker = serializers.CharField(source="entity.ticker", read_only=True)

    class Meta:
        model = DocumentEntity
        fields = [
            "id",
            "name",
            "ticker",
            "label",
            "positive",
            "neutral",
            "negative",
            "value",
            "passages",
        ]


class DocumentSerializer(serializers.ModelSerializer):
    score = ScoreSerializer(read_only=True, allow_null=True)
    entities = EntityBriefSerializer(many=True, read_only=True)
    companies = CompanyScoreSerializer(
        source="documententity_set", many=True, read_only=True, help_text="per-company scores"
    )
    source_name = serializers.CharField(source="source.name", read_only=True)

    class Meta:
        model = Document
        fields = [
            "id",
            "source",
            "source_name",
            "external_id",
            "url",
            "title",
            "body",
            "published_at",
            "language",
            "status",
            "ingested_at",
            "score",
            "entities",
            "companies",
        ]


class CorrectionSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=LABELS)  # type: ignore[assignment]  # not Field.label
    sentence = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="one sentence of the text; default the whole text",
    )


class TopicCorrectionSerializer(serializers.Serializer):
    topics = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(TOPICS)),
        allow_empty=True,
        help_text="the text's topics, all of them (empty: none fits)",
    )


class EntitySerializer(serializers.ModelSerializer):
    aliases = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    class Meta:
        model = Entity
        fields = ["id", "name", "ticker", "aliases", "ticker_needs_context", "active"]
        extra_kwargs = {
            "ticker": {"help_text": "stored in capitals without '$' ('$ai' -> 'AI')"},
            "ticker_needs_context": {
                "help_text": "default: set for a new or changed ticker that is an everyday word "
                "(AI, ALL, NOW) or a single letter; kept for an unchanged one"
            },
        }

    def validate_ticker(self, value: str) -> str:
        try:
            return ticker_normalise(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "url",
            "language",
            "poll_interval_s",
            "embedding_model",
            "status",
            "consecutive_failures",
            "last_error",
            "last_polled_at",
            "last_success_at",
            "next_poll_at",
            "items_total",
        ]
        read_only_fields = [
            "status",
            "consecutive_failures",
            "last_error",
            "last_polled_at",
            "last_success_at",
            "next_poll_at",
            "items_total",
        ]

    def validate_url(self, value: str) -> str:
        if not value:
            return value
        try:
            return feed_url_check(value)
        except FeedError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs.get("kind", getattr(self.instance, "kind", Source.Kind.RSS))
        url = attrs.get("url", getattr(self.instance, "url", ""))
        if kind in (Source.Kind.RSS, Source.Kind.ATOM) and not url:
            raise serializers.ValidationError({"url": "a feed source needs a URL"})
        if attrs.get("poll_interval_s") is not None and attrs["poll_interval_s"] < 60:
            raise serializers.ValidationError({"poll_interval_s": "poll at most once a minute"})
        return attrs


class RuleSerializer(serializers.ModelSerializer):
    entities = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Entity.objects.all(), required=False
    )
    topics = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(TOPICS)), required=False
    )
    owner = serializers.CharField(source="owner.username", read_only=True)
    emails_unsubscribed = serializers.SerializerMethodField(
        help_text="the owner unsubscribed from this rule's emails (or every rule's); "
        "POST .../resubscribe/ switches them back on"
    )

    class Meta:
        model = AlertRule
        # What an editor may set is services.RULE_FIELDS, the one list the page's form, this
        # serializer and the admin share.
        fields = ["id", "owner", *services.RULE_FIELDS, "emails_unsubscribed", "created_at"]
        read_only_fields = ["created_at"]

    def get_emails_unsubscribed(self, rule: AlertRule) -> bool:
        known = getattr(rule, "emails_unsubscribed", None)  # annotated by selectors.rule_list
        if known is not None:
            return bool(known)
        return selectors.user_unsubscribed(user_id=rule.owner_id, rule_id=rule.pk)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        mode = attrs.get("mode", getattr(self.instance, "mode", AlertRule.Mode.SPIKE))
        threshold = attrs.get("threshold", getattr(self.instance, "threshold", None))
        if mode == AlertRule.Mode.THRESHOLD and threshold is None:
            raise serializers.ValidationError({"threshold": "threshold mode needs a threshold"})
        metric = attrs.get(
            "metric", getattr(self.instance, "metric", AlertRule.Metric.NEGATIVE_SHARE)
        )
        problem = (
            threshold_problem(metric, threshold)
            if mode == AlertRule.Mode.THRESHOLD and threshold is not None
            else ""
        )
        if problem:
            raise serializers.ValidationError({"threshold": f"for {metric} use {problem}"})
        if attrs.get("sensitivity") is not None and attrs["sensitivity"] <= 0:
            raise serializers.ValidationError({"sensitivity": "must be above 0"})
        if attrs.get("window_hours") is not None and not 1 <= attrs["window_hours"] <= 24 * 7:
            raise serializers.ValidationError({"window_hours": "between 1 and 168 hours"})
        cooldown = attrs.get("cooldown_hours")
        if cooldown is not None and cooldown > MAX_COOLDOWN_HOURS:
            raise serializers.ValidationError(
                {"cooldown_hours": f"at most {MAX_COOLDOWN_HOURS} hours (a year)"}
            )
        return attrs


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    documents = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "subject_kind",
            "subject_key",
            "subject_label",
            "metric",
            "value",
            "baseline",
            "z_score",
            "volume",
            "window_start",
            "window_end",
            "reason",
            "status",
            "episode_open",
            "created_at",
            "acknowledged_at",
            "resolved_at",
            "sent_at",
            "send_skipped",
            "documents",
        ]

    def get_documents(self, alert: Alert) -> list[dict[str, Any]]:
        return [{"id": d.pk, "title": d.title, "url": d.url} for d in alert.documents.all()[:10]]


class TrendSerializer(serializers.Serializer):
    subject_kind = serializers.CharField()
    subject_key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # declared field, not Field.label
    bucket_hours = serializers.IntegerField()
    buckets = serializers.ListField(child=serializers.DateTimeField())
    volume = serializers.ListField(child=serializers.IntegerField())
    positive = serializers.ListField(child=serializers.IntegerField())
    neutral = serializers.ListField(child=serializers.IntegerField())
    negative = serializers.ListField(child=serializers.IntegerField())
    negative_share = serializers.ListField(child=serializers.FloatField(allow_null=True))
    mean_score = serializers.ListField(child=serializers.FloatField(allow_null=True))
    min_count = serializers.IntegerField(
        help_text="windows with fewer texts have no share or mean (null: a gap in the line)"
    )
