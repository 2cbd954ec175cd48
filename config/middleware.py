"""Project-wide request guards that belong to no single app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin

from apps.mlops.runtime import ModelsBusy

NUL_REFUSAL = "The address contains a NUL character (%00), which no field can hold."


def _nul_refusal(request: HttpRequest) -> HttpResponse | None:
    # PostgreSQL text cannot hold NUL: a filter or a path segment carrying one reached the
    # database and failed there as a 500. Forms and serializers already refuse it in bodies.
    query = request.GET.lists()
    if "\x00" not in request.path and not any(
        "\x00" in key or any("\x00" in value for value in values) for key, values in query
    ):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": NUL_REFUSAL}, status=400)
    return HttpResponseBadRequest(NUL_REFUSAL, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def nul_characters_refuse(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Answer 400 to a request whose path or query string holds a NUL character."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            refusal = _nul_refusal(request)
            if refusal is not None:
                return refusal
            response: HttpResponse = await get_response(request)
            return response

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        refusal = _nul_refusal(request)
        if refusal is not None:
            return refusal
        response: HttpResponse = get_response(request)
        return response

    return middleware


def _friendly_not_found(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    # With DEBUG on, Django answers an unknown address with its debug page listing every URL
    # pattern; the demo profile (FRIENDLY_ERRORS) shows the suite's own 404 page instead.
    if (
        response.status_code != 404
        or not settings.FRIENDLY_ERRORS
        or not settings.DEBUG
        or "text/html" not in response.get("Content-Type", "")
    ):
        return response
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "404.html", {"path": request.path}, status=404)


@sync_and_async_middleware
def friendly_not_found(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Replace the DEBUG 404 page by the suite's own when FRIENDLY_ERRORS is set (bin/demo)."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            response: HttpResponse = await get_response(request)
            if response.status_code != 404:
                return response
            friendly: HttpResponse = await sync_to_async(_friendly_not_found)(request, response)
            return friendly

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return _friendly_not_found(request, get_response(request))

    return middleware


class ModelsBusyAnswer(MiddlewareMixin):
    """A request refused because too many already wait for a model (`ModelsBusy`, raised before
    it read or stored anything) gets a 503 with Retry-After: `{"detail": ..., "retry_after":
    ...}` under /api/, a short page elsewhere. Without this it would surface as a 500."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ModelsBusy):
            return None
        response: HttpResponse
        if request.path.startswith("/api/"):
            body = {"detail": str(exception), "code": "busy", "retry_after": exception.retry_after}
            response = JsonResponse(body, status=503)
        else:
            context = {"message": str(exception), "retry_after": exception.retry_after}
            response = render(request, "503.html", context, status=503)
        response["Retry-After"] = str(exception.retry_after)
        return response
