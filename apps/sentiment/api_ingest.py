"""REST API under /api/sentiment/: push documents (ingest) and upload files of them."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.upload_jobs import CappedUploadMixin

from . import imports, services
from .api import ANALYST
from .import_views import job_payload
from .models import ImportJob, Source
from .serializers import (
    DocumentInSerializer,
    IngestResultSerializer,
    IngestSerializer,
    UploadSerializer,
)
from .uploads import DocumentRow, LineError, UploadError


def _result(source_id: int, result: services.IngestResult) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "created": result.created,
        "duplicates": result.duplicates,
        "ids": result.created_ids,
        "errors": result.errors,
    }


class IngestView(APIView):
    """Push one document or a batch; invalid documents are reported, valid ones stored."""

    permission_classes = ANALYST

    @extend_schema(
        request=IngestSerializer,
        responses={201: IngestResultSerializer, 400: IngestResultSerializer},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if isinstance(data, list):  # a bare array is a batch into the default source
            data = {"documents": data}
        elif (
            isinstance(data, dict)
            and "documents" not in data
            and ("title" in data or "body" in data)
        ):
            data = {"source": data.get("source", "API"), "documents": [data]}
        envelope = IngestSerializer(data=data)
        envelope.is_valid(raise_exception=True)
        rows: list[DocumentRow] = []
        errors: list[LineError] = []
        for index, raw in enumerate(envelope.validated_data["documents"], start=1):
            if not isinstance(raw, dict):
                errors.append(
                    LineError(index, f"expected a document object, got {_json_kind(raw)}")
                )
                continue
            item = DocumentInSerializer(data=raw)
            if not item.is_valid():
                errors.append(LineError(index, _flatten(item.errors)))
                continue
            v = item.validated_data
            rows.append(
                DocumentRow(
                    index,
                    v.get("external_id", ""),
                    v.get("url", ""),
                    v.get("title", ""),
                    v.get("body", ""),
                    v.get("published_at"),
                    v.get("language", ""),
                )
            )
        source = _pushed_source(envelope.validated_data["source"], Source.Kind.API)
        result = services.documents_ingest(source_id=source.pk, rows=rows, errors=errors)
        code = status.HTTP_400_BAD_REQUEST if errors and not rows else status.HTTP_201_CREATED
        return Response(_result(source.pk, result), status=code)


def _pushed_source(name: str, kind: str) -> Source:
    """The push or upload source called `name`; 400 when a feed has that name."""
    try:
        return services.source_get_or_create(name=name, kind=kind)
    except services.SourceNameTaken as exc:
        raise serializers.ValidationError({"source": [str(exc)]}) from None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "an array"


def _flatten(errors: Any) -> str:
    if isinstance(errors, dict):
        return "; ".join(
            f"{k}: {_flatten(v)}" if k != "non_field_errors" else _flatten(v)
            for k, v in errors.items()
        )
    if isinstance(errors, list):
        return "; ".join(_flatten(e) for e in errors)
    return str(errors)


class UploadView(CappedUploadMixin, APIView):
    """Bulk upload of a CSV or JSONL file; the response lists each bad line and why. A file
    over UPLOAD_INLINE_MAX_BYTES becomes an import job: 202 with the job to follow."""

    permission_classes = ANALYST
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=UploadSerializer,
        responses={
            201: IngestResultSerializer,
            202: OpenApiTypes.OBJECT,
            400: IngestResultSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = UploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            accepted = imports.upload_accept(
                upload=form.validated_data["file"],
                kind=ImportJob.Kind.DOCUMENTS,
                user=request.user,
                source_name=form.validated_data["source"],
            )
        except UploadError as exc:
            raise serializers.ValidationError({"file": str(exc)}) from exc
        except services.SourceNameTaken as exc:
            raise serializers.ValidationError({"source": [str(exc)]}) from None
        if isinstance(accepted, ImportJob):
            return Response(job_payload(accepted), status=status.HTTP_202_ACCEPTED)
        errors = [{"line": e.line, "error": e.reason} for e in accepted.errors]
        result = services.IngestResult(accepted.created_ids, accepted.job.duplicates, errors)
        payload = {**_result(int(accepted.job.params["source_id"]), result), "job": accepted.job.pk}
        kept = result.created or result.duplicates
        code = status.HTTP_400_BAD_REQUEST if errors and not kept else status.HTTP_201_CREATED
        return Response(payload, status=code)
