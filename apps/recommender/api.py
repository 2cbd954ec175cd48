"""REST API: recommendations and events for storefront visitors, catalog and experiments for
merchandisers."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.client_ip import ClientIpAnonThrottle
from apps.accounts.models import Role
from apps.accounts.roles import HasRole, user_has_role
from apps.core.upload_jobs import CappedUploadMixin

from . import catalog_import, selectors, services
from .models import CatalogImport, Event, Experiment, Item, Variant

Merchandiser = HasRole(Role.MERCHANDISER)


class StorefrontThrottle(ClientIpAnonThrottle):
    # Tracker batches and page widgets of one visitor; generous, but bounded per address.
    scope = "recommender"
    rate = "600/min"


class ReadOrMerchandiser(BasePermission):
    # Declared for the role x endpoint test: reads are public, writes need the role.
    required_role = Role.MERCHANDISER
    public_methods = ("GET", "HEAD", "OPTIONS")

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method in self.public_methods:
            return True
        return user_has_role(request.user, self.required_role)


def shopper_from_request(request: Request, user_param: str = "") -> services.Shopper:
    """Whose recommendations: an account (only one's own, or any for a merchandiser) or an
    anonymous visitor id (unguessable cookie value, so asking for one is harmless)."""
    user = request.user
    if user_param and user_param.isdigit():
        account = services.id_parse(user_param)
        if account is None and user_has_role(user, Role.MERCHANDISER):
            raise LookupError(f"no account has id {user_param}")  # more digits than any key
        if (
            account is not None
            and getattr(user, "is_authenticated", False)
            and (user.pk == account or user_has_role(user, Role.MERCHANDISER))
        ):
            if user.pk != account and not get_user_model().objects.filter(pk=account).exists():
                # Account 0 would even read as "nobody": the anonymous list, silently.
                raise LookupError(f"no account has id {user_param}")
            return services.Shopper(user_id=account)
        raise PermissionError("you may only ask for your own account's recommendations")
    if user_param:
        return services.Shopper(visitor_id=user_param[:64])
    if getattr(user, "is_authenticated", False):
        return services.Shopper(user_id=user.pk)
    return services.Shopper(visitor_id=services.visitor_cookie(request))


# -- serializers -----------------------------------------------------------------------------------
class ItemSerializer(serializers.ModelSerializer):
    image = serializers.CharField(source="image_src", read_only=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "sku",
            "title",
            "description",
            "tags",
            "category",
            "price",
            "stock",
            "image_url",
            "image",
            "active",
            "boost",
            "created",
            "updated",
        ]
        read_only_fields = ["id", "created", "updated", "image"]


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="a .csv or .jsonl file")
    content = serializers.CharField(required=False, help_text="or the text itself")
    format = serializers.ChoiceField(choices=["csv", "jsonl"], required=False)


class CatalogImportSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CatalogImport
        fields = [
            "id",
            "status",
            "filename",
            "size_bytes",
            "rows_total",
            "rows_done",
            "percent",
            "result",
            "errors",
            "errors_total",
            "message",
            "created_at",
            "started_at",
            "finished_at",
            "url",
        ]

    def get_url(self, job: CatalogImport) -> str:
        return f"/api/items/imports/{job.pk}"


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    errors = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]


class RecommendationQuerySerializer(serializers.Serializer):
    user = serializers.CharField(required=False, allow_blank=True, max_length=64)
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.RegexField(r"^(home|cart|item:\d+)$", required=False, default="home")  # type: ignore[assignment]
    n = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)
    cart = serializers.RegexField(r"^\d+(,\d+)*$", required=False, allow_blank=True)


class RecommendedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    category = serializers.CharField()
    price = serializers.CharField()
    image = serializers.CharField()
    url = serializers.CharField()
    score = serializers.FloatField()
    reason = serializers.CharField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    source = serializers.ChoiceField(choices=["collaborative", "text", "trending", "new"])  # type: ignore[assignment]


class RecommendationListSerializer(serializers.Serializer):
    shopper = serializers.CharField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.CharField()  # type: ignore[assignment]
    strategy = serializers.CharField()
    experiment = serializers.IntegerField(allow_null=True)
    variant = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    cached = serializers.BooleanField()
    items = RecommendedItemSerializer(many=True)


class EventInSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=80, help_text="client-generated; resends ignored")
    kind = serializers.ChoiceField(choices=Event.Kind.choices)
    item = serializers.CharField(help_text="item id or sku")
    rating = serializers.FloatField(required=False, min_value=0, max_value=5)
    text = serializers.CharField(required=False, allow_blank=True)
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    context = serializers.CharField(required=False, allow_blank=True)  # type: ignore[assignment]
    experiment = serializers.IntegerField(required=False, allow_null=True)
    variant = serializers.CharField(required=False, allow_blank=True)
    from_recommendation = serializers.BooleanField(required=False)
    created = serializers.DateTimeField(required=False, help_text="merchandiser tokens only")


class EventBatchSerializer(serializers.Serializer):
    visitor_id = serializers.CharField(required=False, allow_blank=True, max_length=64)
    user = serializers.IntegerField(required=False, help_text="account id (merchandiser only)")
    events: serializers.Field = serializers.ListField(child=serializers.DictField(), max_length=500)


class EventBatchDocSerializer(EventBatchSerializer):
    # What the schema shows; validation itself is per event, so one bad event never sinks
    # the rest of the batch (see services.events_record).
    events = EventInSerializer(many=True)


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    # DRF's metaclass pops declared fields, so this never shadows Serializer's.
    errors = serializers.ListField(child=serializers.DictField())  # type: ignore[assignment]


class VariantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Variant
        fields = ["name", "strategy", "diversity", "weight"]


class ExperimentSerializer(serializers.ModelSerializer):
    variants = VariantSerializer(many=True)

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "description",
            "status",
            "shipped_variant",
            "created",
            "started_at",
            "ended_at",
            "variants",
        ]
        read_only_fields = ["id", "status", "shipped_variant", "created", "started_at", "ended_at"]


class VariantReportSerializer(serializers.Serializer):
    name = serializers.CharField()
    strategy = serializers.CharField()
    weight = serializers.IntegerField()
    shoppers = serializers.IntegerField()
    impressions = serializers.IntegerField()
    clicks = serializers.IntegerField()
    ctr = serializers.FloatField()
    ctr_low = serializers.FloatField()
    ctr_high = serializers.FloatField()
    converted = serializers.IntegerField()
    conversion = serializers.FloatField()
    conversion_low = serializers.FloatField()
    conversion_high = serializers.FloatField()


class ShipSerializer(serializers.Serializer):
    variant = serializers.CharField()


class SettingsSerializer(serializers.Serializer):
    # Types only: the bounds are services.settings_problems', the check the page and admin use.
    feedback_weights = serializers.DictField(
        child=serializers.FloatField(),
        help_text=f"event kind -> weight from 0 to {services.WEIGHT_MAX:g}",
    )
    exclude_purchased = serializers.BooleanField()
    diversity = serializers.FloatField(help_text="0 to 1")
    category_cap = serializers.IntegerField(help_text=f"0 (no cap) to {services.CATEGORY_CAP_MAX}")
    trending_half_life_days = serializers.FloatField(
        help_text="days, {:g} to {:g}".format(*services.HALF_LIFE_DAYS)
    )
    default_strategy = serializers.ChoiceField(choices=Variant.STRATEGIES)


# -- views -----------------------------------------------------------------------------------------
class RecommendationsView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [StorefrontThrottle]

    @extend_schema(
        parameters=[RecommendationQuerySerializer],
        responses=RecommendationListSerializer,
        summary="Recommendations with reasons for a shopper (account or anonymous visitor id)",
    )
    def get(self, request: Request) -> Response:
        query = RecommendationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            shopper = shopper_from_request(request, data.get("user", ""))
        except PermissionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
        except LookupError as exc:
            return Response({"user": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        cart = [int(i) for i in data.get("cart", "").split(",") if i]
        if data["context"] == "cart" and not cart:
            cart = [int(i) for i in request.session.get("cart", {})]
        try:
            result = selectors.recommendations_get(
                shopper=shopper, context=data["context"], n=data["n"], cart=cart
            )
        except selectors.ContextError as exc:
            return Response({"context": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            RecommendationListSerializer(result.as_dict() | {"cached": result.cached}).data
        )


class EventBatchView(APIView):
    # No session authentication: the tracker posts with sendBeacon, which cannot carry a CSRF
    # header. Anonymous posts speak for the visitor id only; tokens may name an account.
    authentication_classes = [TokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [StorefrontThrottle]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=EventBatchDocSerializer,
        responses={202: EventBatchResultSerializer},
        summary="Record a batch of storefront events (idempotent by event_id)",
        description=(
            "Purchases are recorded by the storefront's checkout: a batch holding a `purchase` "
            "event is refused (400) unless it comes with a merchandiser token (an order-history "
            "import)."
        ),
    )
    def post(self, request: Request) -> Response:
        body = EventBatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        trusted = user_has_role(request.user, Role.MERCHANDISER)
        if data.get("user") is not None:
            if not trusted:
                return Response(
                    {"detail": "naming an account needs a merchandiser token"},
                    status=status.HTTP_403_FORBIDDEN,
                )
            if not get_user_model().objects.filter(pk=data["user"]).exists():
                return Response(
                    {"user": [f"no account has id {data['user']}"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            shopper = services.Shopper(user_id=data["user"])
        else:
            visitor = data.get("visitor_id") or services.visitor_cookie(request)
            if not visitor:
                return Response(
                    {"visitor_id": ["a visitor id (or the tsv cookie) is required"]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            shopper = services.Shopper(visitor_id=visitor)
        if not trusted and any(
            isinstance(e, dict) and e.get("kind") == Event.Kind.PURCHASE for e in data["events"]
        ):
            # Purchases train the ranker and decide A/B tests: only the checkout records them.
            # The whole batch is refused, so a client sees the mistake instead of a partial 202.
            return Response(
                {"events": [services.TRACKER_PURCHASE_REFUSED]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        result = services.events_record(
            shopper=shopper,
            events=data["events"],
            trusted=trusted,
            source=Event.Source.IMPORT if trusted else Event.Source.TRACKER,
        )
        return Response(asdict(result), status=status.HTTP_202_ACCEPTED)


class ItemViewSet(CappedUploadMixin, viewsets.ModelViewSet):
    serializer_class = ItemSerializer
    lookup_value_regex = r"[0-9]+"  # /api/items/abc is a 404, never a 500
    permission_classes = [ReadOrMerchandiser]

    def get_queryset(self) -> Any:
        items = Item.objects.all().order_by("pk")
        if not user_has_role(self.request.user, Role.MERCHANDISER):
            items = items.filter(active=True)
        # NUL cannot be in a stored category (PostgreSQL refuses it in a query, too).
        category = self.request.query_params.get("category", "").replace("\x00", "")
        return items.filter(category=category) if category else items

    def _save(self, request: Request, item_id: int | None, partial: bool) -> Response:
        # Id 0 is a missing item too (a 404), not "create one".
        instance = get_object_or_404(Item, pk=item_id) if item_id is not None else None
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        merged = {
            **(ItemSerializer(instance).data if instance else {}),
            **serializer.validated_data,
        }
        try:
            item = services.item_save(data=merged, item_id=item_id)
        except services.ItemRowError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            ItemSerializer(item).data,
            status=status.HTTP_200_OK if item_id else status.HTTP_201_CREATED,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, None, partial=False)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, int(kwargs["pk"]), partial=kwargs.get("partial", False))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        item = self.get_object()
        services.item_deactivate(item_id=item.pk)  # keeps its events: history stays intact
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ImportSerializer,
        responses=ImportResultSerializer,
        summary="Import items from CSV or JSONL; bad rows are reported per line",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser, JSONParser],
    )
    def import_items(self, request: Request) -> Response:
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data.get("file")
        fmt = body.validated_data.get("format")
        try:
            if upload is not None:
                fmt = fmt or (
                    "jsonl" if upload.name.lower().endswith((".jsonl", ".json")) else "csv"
                )
                job, result = catalog_import.catalog_upload_accept(
                    upload=upload, fmt=fmt, user=request.user
                )
                if result is None:  # a large file: follow its job
                    return Response(
                        {"job": CatalogImportSerializer(job).data}, status=status.HTTP_202_ACCEPTED
                    )
                return Response({**asdict(result), "job": job.pk})
            content = body.validated_data.get("content", "")
            if not content.strip():
                return Response({"file": ["send a file or content"]}, status=400)
            result = catalog_import.items_import(content=content, fmt=fmt or "csv")
        except ValueError as exc:  # catalog_import.ImportRefused: nothing stored
            return Response({"file": [str(exc)]}, status=400)
        return Response(asdict(result))

    @extend_schema(responses=CatalogImportSerializer, summary="A catalog import job's progress")
    @action(
        detail=False,
        methods=["get"],
        url_path=r"imports/(?P<job_id>[0-9]+)",
        permission_classes=[Merchandiser],
    )
    def import_job(self, request: Request, job_id: str) -> Response:
        job = catalog_import.catalog_import_get(job_id=int(job_id))
        if job is None:
            raise NotFound("no such catalog import")
        return Response(CatalogImportSerializer(job).data)


class ExperimentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ExperimentSerializer
    permission_classes = [Merchandiser]
    lookup_value_regex = r"[0-9]+"
    queryset = Experiment.objects.prefetch_related("variants")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            experiment = services.experiment_create(
                name=data["name"],
                description=data.get("description", ""),
                variants=[dict(v) for v in data["variants"]],
            )
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

    def _transition(self, fn: Any, **kwargs: Any) -> Response:
        try:
            experiment = fn(**kwargs)
        except ValueError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(ExperimentSerializer(experiment).data)

    @extend_schema(request=None, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        return self._transition(services.experiment_start, experiment_id=self.get_object().pk)

    @extend_schema(request=None, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        return self._transition(services.experiment_stop, experiment_id=self.get_object().pk)

    @extend_schema(request=ShipSerializer, responses=ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        body = ShipSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._transition(
            services.experiment_ship,
            experiment_id=self.get_object().pk,
            variant=body.validated_data["variant"],
        )

    @extend_schema(
        responses=VariantReportSerializer(many=True),
        summary="Per-variant CTR and conversion with 95% Wilson intervals",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def report(self, request: Request, pk: str) -> Response:
        rows = selectors.experiment_report(experiment=self.get_object())
        return Response(VariantReportSerializer([asdict(r) for r in rows], many=True).data)


class SettingsView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: Request) -> Response:
        current = selectors.settings_get()
        return Response(SettingsSerializer(_settings_dict(current)).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: Request) -> Response:
        body = SettingsSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            current = services.settings_update(values=dict(body.validated_data))
        except services.SettingsError as exc:
            errors = {name: [message] for name, message in exc.errors.items()}
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        return Response(SettingsSerializer(_settings_dict(current)).data)


def _settings_dict(current: Any) -> dict[str, Any]:
    return {
        "feedback_weights": current.weights(),
        "exclude_purchased": current.exclude_purchased,
        "diversity": current.diversity,
        "category_cap": current.category_cap,
        "trending_half_life_days": current.trending_half_life_days,
        "default_strategy": current.default_strategy,
    }


class RetrainView(APIView):
    permission_classes = [Merchandiser]

    @extend_schema(
        request=None,
        responses={202: inline_serializer("RetrainQueued", {"run": serializers.IntegerField()})},
        summary="Queue a ranker training run (promoted only if NDCG@10 does not drop)",
    )
    def post(self, request: Request) -> Response:
        with transaction.atomic():
            run = services.retrain_start(user=request.user)
        return Response({"run": run.pk}, status=status.HTTP_202_ACCEPTED)
