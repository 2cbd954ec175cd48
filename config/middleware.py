"""Project-wide request guards that belong to no single app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

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
