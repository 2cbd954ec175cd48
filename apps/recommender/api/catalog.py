"""Items and catalog imports (merchandisers write, anyone reads active items)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.face import Role, user_has_role
from apps.core.upload_jobs import CappedUploadMixin
from mlcore.language import LANGUAGES

from .. import catalog_import, services
from ..models import CatalogImport, Item
from ._common import Merchandiser, ReadOrMerchandiser


class ItemSerializer(serializers.ModelSerializer):
    image = serializers.CharField(source="image_src", read_only=True)

    class Meta:
        model = Item
        # The writable fields are services.ITEM_FIELDS, shared with the form, admin and imports;
        # the language is detected from the text.
        fields = ["id", *services.ITEM_FIELDS, "image", "language", "created", "updated"]
        read_only_fields = ["id", "language", "created", "updated", "image"]


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
        language = self.request.query_params.get("language", "")
        if language and language not in LANGUAGES:
            raise ValidationError({"language": f"Must be one of: {', '.join(LANGUAGES)}."})
        if language:
            items = items.filter(language=language)
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
