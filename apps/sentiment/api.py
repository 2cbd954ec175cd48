"""REST API under /api/sentiment/: documents, trends, alerts, rules, watchlist, sources
(pushing and uploading documents: api_ingest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any, cast

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import HasRole, Role, User
from mlcore.language import LANGUAGES

from . import selectors, services
from .models import Aggregate, Alert, AlertRule, Document, Entity, Source
from .serializers import (
    AlertSerializer,
    CorrectionSerializer,
    DocumentSerializer,
    EntitySerializer,
    RuleSerializer,
    SourceSerializer,
    TopicCorrectionSerializer,
    TrendSerializer,
)
from .text import TOPICS
from .uploads import LABELS

ANALYST = [HasRole(Role.ANALYST)]


@extend_schema(
    parameters=[
        OpenApiParameter("entity", int),
        OpenApiParameter("topic", str),
        OpenApiParameter("label", str, enum=["positive", "neutral", "negative"]),
        OpenApiParameter("source", int),
        OpenApiParameter("q", str),
        OpenApiParameter("since_id", int, description="only documents with a larger id"),
        OpenApiParameter(
            "published_after",
            OpenApiTypes.DATETIME,
            description="published at or after (ISO 8601 date or time; naive means UTC)",
        ),
        OpenApiParameter(
            "published_before",
            OpenApiTypes.DATETIME,
            description="published before (ISO 8601 date or time; naive means UTC)",
        ),
    ]
)
class DocumentViewSet(viewsets.ReadOnlyModelViewSet):
    """Documents with their scores, newest first."""

    permission_classes = ANALYST
    serializer_class = DocumentSerializer

    def get_queryset(self) -> QuerySet[Document]:
        p = self.request.query_params
        if self.action != "list":
            return Document.objects.select_related("source", "score")
        if p.get("label") and p["label"] not in LABELS:
            raise serializers.ValidationError({"label": f"use one of {', '.join(LABELS)}"})
        if p.get("topic") and p["topic"] not in TOPICS:  # a typo must not read as "no texts"
            raise serializers.ValidationError(
                {"topic": f"unknown topic {p['topic']!r}; use one of {', '.join(sorted(TOPICS))}"}
            )
        if p.get("language") and p["language"] not in LANGUAGES:
            raise serializers.ValidationError({"language": f"use one of {', '.join(LANGUAGES)}"})
        documents = selectors.document_feed(
            entity_id=_int(p.get("entity")),
            topic=p.get("topic", ""),
            label=p.get("label", ""),
            source_id=_int(p.get("source")),
            query=p.get("q", ""),
            since_id=_int(p.get("since_id")),
            published_after=_moment(p, "published_after"),
            published_before=_moment(p, "published_before"),
            scored_only=False,
        )
        return documents.filter(language=p["language"]) if p.get("language") else documents

    @extend_schema(request=CorrectionSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str) -> Response:
        """Correct the label of this text (or one sentence of it) for the next training run."""
        doc = self.get_object()
        form = CorrectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            correction = services.correction_create(
                document_id=doc.pk,
                label=form.validated_data["label"],
                user=request.user,
                sentence=form.validated_data.get("sentence", ""),
            )
        except ValueError as exc:
            raise serializers.ValidationError({"sentence": str(exc)}) from None
        return Response(
            {
                "id": correction.pk,
                "label": correction.label,
                "predicted_label": correction.predicted_label,
            },
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=TopicCorrectionSerializer, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="correct-topics")
    def correct_topics(self, request: Request, pk: str) -> Response:
        """Set this text's topics: applied to its trends at once, and an example for the topic
        classifier."""
        doc = self.get_object()
        form = TopicCorrectionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            correction = services.topic_correction_create(
                document_id=doc.pk, topics=form.validated_data["topics"], user=request.user
            )
        except ValueError as exc:
            raise serializers.ValidationError({"topics": str(exc)}) from None
        return Response(
            {"id": correction.pk, "topics": correction.topics, "predicted": correction.predicted},
            status=status.HTTP_201_CREATED,
        )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise serializers.ValidationError({"detail": f"{value!r} is not a number"}) from None


def _moment(params: Any, name: str) -> datetime | None:
    """An ISO 8601 date or date-time query parameter (naive means UTC); 400 when malformed."""
    value = params.get(name, "")
    if not value:
        return None
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:  # well-formed but impossible, e.g. 2025-02-30
        moment = day = None
    if day is not None:
        moment = datetime.combine(day, time.min)
    if moment is None:
        raise serializers.ValidationError(
            {name: f"{value!r} is not an ISO 8601 date or time, e.g. 2025-06-10T08:00Z"}
        )
    if not timezone.is_aware(moment):
        return moment.replace(tzinfo=UTC)
    try:
        # In UTC: PostgreSQL refuses offsets beyond +-15:59, which Python accepts up to +-23:59.
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
        raise serializers.ValidationError({name: f"{value!r} is out of range"}) from None


class TrendView(APIView):
    """Sentiment and volume over time for an entity, a topic or all documents."""

    permission_classes = ANALYST

    @extend_schema(
        parameters=[
            OpenApiParameter("subject", str, description="'entity:<id>', 'topic:<key>' or 'all'"),
            OpenApiParameter("days", int),
            OpenApiParameter("bucket_hours", int),
            OpenApiParameter(
                "min_count",
                int,
                description="fewest texts for a window's share and mean (default "
                "SENTIMENT_CHART_MIN_COUNT); fewer is null",
            ),
            OpenApiParameter(
                "end", OpenApiTypes.DATETIME, description="the chart ends here (default: now)"
            ),
        ],
        responses=TrendSerializer,
    )
    def get(self, request: Request) -> Response:
        subject = request.query_params.get("subject", "all")
        kind, _, key = subject.partition(":")
        if kind not in Aggregate.SubjectKind.values or (kind != "all" and not key):
            raise serializers.ValidationError(
                {"subject": "use 'entity:<id>', 'topic:<key>' or 'all'"}
            )
        # A typo must not read as a quiet company: an unknown subject is an error, not zeros.
        if kind == Aggregate.SubjectKind.ENTITY and not (
            key.isascii() and key.isdigit() and len(key) < 16
        ):
            raise serializers.ValidationError({"subject": "use 'entity:<id>' with a number"})
        if kind == Aggregate.SubjectKind.ENTITY and not Entity.objects.filter(pk=key).exists():
            raise NotFound(f"no watchlist company {key}")
        if kind == Aggregate.SubjectKind.TOPIC and key not in TOPICS:
            raise serializers.ValidationError(
                {"subject": f"unknown topic {key!r}; use one of {', '.join(sorted(TOPICS))}"}
            )
        days = _int(request.query_params.get("days"))
        hours = _int(request.query_params.get("bucket_hours"))
        days = 14 if days is None else days
        hours = 6 if hours is None else hours
        if not (1 <= days <= 365 and 1 <= hours <= 168 and hours <= days * 24):
            raise serializers.ValidationError(
                {"detail": "days 1-365, bucket_hours 1-168 and at most days x 24"}
            )
        min_count = _int(request.query_params.get("min_count"))
        if min_count is not None and not 1 <= min_count <= 1000:
            raise serializers.ValidationError({"min_count": "a number of texts, 1-1000"})
        end = _moment(request.query_params, "end")
        data = selectors.trend_series(
            subject_kind=kind,
            subject_key=key or "all",
            days=days,
            bucket_hours=hours,
            now=end,
            min_count=min_count,
        )
        return Response(TrendSerializer(data).data)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("status", str, enum=list(Alert.Status.values))])
)
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts of your rules (every alert for staff), newest first; acknowledge or resolve them."""

    permission_classes = ANALYST
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        wanted = self.request.query_params.get("status", "")
        if wanted and wanted not in Alert.Status.values:  # a typo must not read as "no alerts"
            raise serializers.ValidationError(
                {"status": f"use one of {', '.join(Alert.Status.values)}"}
            )
        return selectors.alert_list(user=self.request.user, status=wanted)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        alert = services.alert_transition(
            alert_id=self.get_object().pk, action="acknowledge", user=request.user
        )
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        alert = services.alert_transition(
            alert_id=self.get_object().pk, action="resolve", user=request.user
        )
        return Response(AlertSerializer(alert).data)


class RuleViewSet(viewsets.ModelViewSet):
    """Your alert rules."""

    permission_classes = ANALYST
    serializer_class = RuleSerializer
    queryset = AlertRule.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[AlertRule]:
        user = cast(User, self.request.user)  # ANALYST permission: signed in
        return selectors.rule_list(owner_id=user.pk)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        user = cast(User, self.request.user)
        serializer.instance = services.rule_save(owner_id=user.pk, values=serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        rule = cast(AlertRule, serializer.instance)
        serializer.instance = services.rule_save(
            owner_id=rule.owner_id, rule_id=rule.pk, values=serializer.validated_data
        )

    def perform_destroy(self, instance: AlertRule) -> None:
        services.rule_delete(rule_id=instance.pk)

    @extend_schema(request=None, responses=RuleSerializer)
    @action(detail=True, methods=["post"])
    def resubscribe(self, request: Request, pk: str) -> Response:
        """Email this rule's alerts again after an unsubscribe link (alerts that fired
        meanwhile are not sent); harmless when its emails are on."""
        rule = self.get_object()
        services.emails_resubscribe(user_id=rule.owner_id, rule_id=rule.pk)
        return Response(RuleSerializer(self.get_queryset().get(pk=rule.pk)).data)


class EntityViewSet(viewsets.ModelViewSet):
    """The watchlist of companies."""

    permission_classes = ANALYST
    serializer_class = EntitySerializer
    queryset = Entity.objects.all()

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        v = serializer.validated_data
        serializer.instance = services.entity_upsert(
            name=v["name"],
            ticker=v.get("ticker", ""),
            aliases=v.get("aliases", []),
            ticker_needs_context=v.get("ticker_needs_context"),
            active=v.get("active"),
        )

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        entity = cast(Entity, serializer.instance)
        v = serializer.validated_data
        serializer.instance = services.entity_upsert(
            entity_id=entity.pk,
            name=v.get("name", entity.name),
            ticker=v.get("ticker", entity.ticker),
            aliases=v.get("aliases", entity.aliases or []),
            ticker_needs_context=v.get("ticker_needs_context"),
            active=v.get("active"),
        )

    def perform_destroy(self, instance: Entity) -> None:
        try:
            services.entity_delete(entity_id=instance.pk)
        except ValueError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None


class SourceViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Sources with their polling status; poll one now."""

    permission_classes = ANALYST
    serializer_class = SourceSerializer
    queryset = Source.objects.all()

    @extend_schema(request=None, responses=SourceSerializer)
    @action(detail=True, methods=["post"])
    def poll(self, request: Request, pk: str) -> Response:
        source = self.get_object()
        if not source.is_feed:
            raise serializers.ValidationError({"detail": "only RSS/Atom sources are polled"})
        services.source_poll_queue(source_id=source.pk)
        source.refresh_from_db()
        return Response(SourceSerializer(source).data, status=status.HTTP_202_ACCEPTED)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = services.source_create(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        # Through the service: a new address starts afresh (no old ETag, failures or backoff).
        v = serializer.validated_data
        fields = ("name", "kind", "url", "language", "poll_interval_s", "embedding_model")
        serializer.instance = services.source_update(
            source_id=cast(Source, serializer.instance).pk, **{k: v[k] for k in fields if k in v}
        )

    def perform_destroy(self, instance: Source) -> None:
        # Its documents go through the service, which takes them out of the aggregates.
        services.source_delete(source_id=instance.pk)
