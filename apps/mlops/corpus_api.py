"""REST API of uploaded unlabelled corpora (ML admins): /api/mlops/corpora/ and /<id>/.

POST a multipart file with `app` (and optionally `name`, `format`, `field`, `encoding`): 201
with the imported corpus when the file was small enough to import within the request, 202 with
the queued one otherwise (follow `url`); 400 naming what is wrong with the file, 413 over
UPLOAD_MAX_BYTES, with nothing stored either way.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import HasRole, Role
from apps.core.upload_jobs import CappedUploadMixin

from . import corpora
from .corpus_files import FORMATS, CorpusFileError
from .models import CORPUS_APPS, Corpus


class CorpusSerializer(serializers.ModelSerializer[Corpus]):
    lines = serializers.IntegerField(source="stored", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Corpus
        fields = [
            "id",
            "app",
            "name",
            "format",
            "field",
            "status",
            "filename",
            "size_bytes",
            "rows_done",
            "lines",
            "duplicates",
            "corpus_bytes",
            "corpus_hash",
            "errors",
            "errors_total",
            "message",
            "created_at",
            "finished_at",
            "url",
        ]

    def get_url(self, corpus: Corpus) -> str:
        return reverse("mlops-api-corpus", args=[corpus.pk])


class CorpusUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(allow_empty_file=True)
    app = serializers.ChoiceField(choices=[app for app, _ in CORPUS_APPS])
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    format = serializers.ChoiceField(
        choices=FORMATS, required=False, allow_blank=True, default="", help_text="default: from "
        "the file name's extension (.txt, .jsonl, .csv)"
    )  # fmt: skip
    field = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default="",
        help_text="the JSONL field or CSV column holding the text (default: text)",
    )  # fmt: skip
    encoding = serializers.CharField(
        required=False, allow_blank=True, max_length=40, default="",
        help_text="the file's encoding (default: detected: UTF-8 with or without BOM, GB18030...)",
    )  # fmt: skip


class _MlAdmin(APIView):
    permission_classes = [HasRole(Role.ML_ADMIN)]


class CorpusListView(CappedUploadMixin, _MlAdmin):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        parameters=[OpenApiParameter("app", str, enum=[a for a, _ in CORPUS_APPS])],
        responses=CorpusSerializer(many=True),
        summary="Uploaded unlabelled corpora, newest first",
    )
    def get(self, request: Request) -> Response:
        app = request.query_params.get("app", "")
        if app and app not in dict(CORPUS_APPS):
            raise serializers.ValidationError({"app": f"unknown app {app!r}"})
        return Response(CorpusSerializer(corpora.corpora_list(app=app), many=True).data)

    @extend_schema(
        request=CorpusUploadSerializer,
        responses={201: CorpusSerializer, 202: CorpusSerializer},
        summary="Upload an unlabelled corpus (plain text, JSONL field or CSV column)",
    )
    def post(self, request: Request) -> Response:
        form = CorpusUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        try:
            corpus = corpora.corpus_upload_accept(
                upload=data["file"],
                app=data["app"],
                name=data["name"],
                fmt=data["format"],
                field=data["field"],
                encoding=data["encoding"],
                user=request.user,
            )
        except CorpusFileError as exc:
            raise serializers.ValidationError({"file": str(exc)}) from None
        code = status.HTTP_201_CREATED if corpus.finished else status.HTTP_202_ACCEPTED
        return Response(CorpusSerializer(corpus).data, status=code)


class CorpusDetailView(_MlAdmin):
    def _corpus(self, pk: int) -> Corpus:
        corpus = corpora.corpus_get(corpus_id=pk)
        if corpus is None:
            raise NotFound("no such corpus")
        return corpus

    @extend_schema(responses=CorpusSerializer, summary="One corpus: its import and its texts")
    def get(self, request: Request, pk: int) -> Response:
        return Response(CorpusSerializer(self._corpus(pk)).data)

    @extend_schema(responses={204: None, 409: None}, summary="Remove a corpus and its texts")
    def delete(self, request: Request, pk: int) -> Response:
        try:
            corpora.corpus_delete(corpus_id=self._corpus(pk).pk)
        except corpora.CorpusBusy as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
