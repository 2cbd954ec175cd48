"""Following an upload's import job: GET /api/sentiment/import-jobs/<id>/ and its page."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.face import HasRole, Role, role_required

from . import imports
from .models import ImportJob


class ImportJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    url = serializers.SerializerMethodField()
    page = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "filename",
            "size_bytes",
            "rows_total",
            "rows_done",
            "percent",
            "stored",
            "duplicates",
            "errors",
            "errors_total",
            "message",
            "result",
            "created_at",
            "started_at",
            "finished_at",
            "url",
            "page",
        ]

    def get_url(self, job: ImportJob) -> str:
        return reverse("sentiment-import-job", args=[job.pk])

    def get_page(self, job: ImportJob) -> str:
        return reverse("sentiment:import_job", args=[job.pk])


def job_payload(job: ImportJob) -> dict[str, Any]:
    """What an upload handed to a background job answers (202): the job to follow."""
    return {"job": ImportJobSerializer(job).data}


class ImportJobView(APIView):
    """An upload's import job: status, progress, counts and the first line errors."""

    permission_classes = [HasRole(Role.ANALYST)]

    @extend_schema(responses=ImportJobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        job = imports.import_job_get(job_id=pk)
        if job is None:
            raise NotFound("no such import job")
        return Response(ImportJobSerializer(job).data)


@role_required(Role.ANALYST)
def import_job_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's progress; while it runs, the card asks again every two seconds (htmx)."""
    job = imports.import_job_get(job_id=pk)
    if job is None:
        raise Http404("no such import job")
    fragment = bool(request.headers.get("HX-Request"))
    template = "sentiment/_import_job.html" if fragment else "sentiment/import_job.html"
    return render(request, template, {"job": job})
