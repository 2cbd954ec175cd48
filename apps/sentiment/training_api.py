"""REST API for labelled training sets: /api/sentiment/training-sets/."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.face import HasRole, Role
from apps.core.upload_jobs import CappedUploadMixin

from . import imports, training_data
from .import_views import job_payload
from .models import ImportJob, LabelledSet
from .serializers import LineErrorSerializer
from .uploads import UploadError


class LabelledSetSerializer(serializers.ModelSerializer):
    uploaded_by: serializers.StringRelatedField[Any] = serializers.StringRelatedField()

    class Meta:
        model = LabelledSet
        fields = ["id", "name", "filename", "uploaded_by", "created_at", "row_count"]


class LabelledSetUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV with sentence,label columns, or PhraseBank text (sentence@label a line)"
    )
    name = serializers.CharField(
        max_length=200, required=False, default="", help_text="defaults to the file name"
    )


class LabelledSetImportSerializer(serializers.Serializer):
    set = LabelledSetSerializer(allow_null=True, help_text="null when no line was usable")
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="lines repeating an earlier line of the file")
    errors = LineErrorSerializer(many=True)  # type: ignore[assignment]  # not Serializer.errors


def _import_payload(result: training_data.LabelledSetImport) -> dict[str, Any]:
    return {
        "set": LabelledSetSerializer(result.labelled_set).data if result.labelled_set else None,
        "stored": result.stored,
        "duplicates": result.duplicates,
        "errors": [{"line": e.line, "error": e.reason} for e in result.errors],
    }


class LabelledSetViewSet(
    CappedUploadMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Imported labelled sets; the sentiment model's next training run uses them all."""

    permission_classes = [HasRole(Role.ANALYST)]
    serializer_class = LabelledSetSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[LabelledSet]:
        return training_data.labelled_set_list()

    @extend_schema(
        request={"multipart/form-data": LabelledSetUploadSerializer},
        responses={
            201: LabelledSetImportSerializer,
            202: OpenApiTypes.OBJECT,
            400: LabelledSetImportSerializer,
        },
        summary="Import a labelled set; bad lines are reported, good ones stored",
    )
    def create(self, request: Request) -> Response:
        form = LabelledSetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            accepted = imports.upload_accept(
                upload=form.validated_data["file"],
                kind=ImportJob.Kind.LABELLED_SET,
                user=request.user,
                name=form.validated_data["name"],
            )
        except UploadError as exc:
            raise serializers.ValidationError({"file": str(exc)}) from exc
        if isinstance(accepted, ImportJob):
            return Response(job_payload(accepted), status=status.HTTP_202_ACCEPTED)
        result = training_data.LabelledSetImport(
            accepted.labelled_set, accepted.sentences, accepted.job.duplicates, accepted.errors
        )
        code = status.HTTP_201_CREATED if result.labelled_set else status.HTTP_400_BAD_REQUEST
        return Response({**_import_payload(result), "job": accepted.job.pk}, status=code)

    def perform_destroy(self, instance: LabelledSet) -> None:
        training_data.labelled_set_delete(set_id=instance.pk)
