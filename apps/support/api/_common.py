"""Shared by the API modules: the agents' permission, error responses, the list filters."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from apps.accounts.face import HasRole, Role
from mlcore.language import LANGUAGES

from .. import selectors
from ..models import KnowledgeBase
from ..text import InvalidText

Agent = HasRole(Role.SUPPORT_AGENT)


def _bad(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": message}, status=code)


def _query_filters(request: Request, statuses: Any, *, kb: bool = True) -> dict[str, Any]:
    """The list filters `?kb=<id>` and `?status=<value>`, checked: a typo is a 400 naming the
    parameter, not a server error or a silently empty list."""
    params = request.query_params
    found: dict[str, Any] = {"status": params.get("status") or None}
    if found["status"] is not None and found["status"] not in statuses.values:
        raise ValidationError({"status": f"Must be one of: {', '.join(statuses.values)}."})
    if kb:
        raw = params.get("kb") or None
        try:
            found["kb_id"] = int(raw) if raw is not None else None
        except ValueError:
            raise ValidationError({"kb": "Must be a knowledge base id (a whole number)."}) from None
    return found


def _language_filter(request: Request) -> str | None:
    """The list filter `?language=<code>` (a code of mlcore.language.LANGUAGES), checked."""
    value = request.query_params.get("language") or None
    if value is not None and value not in LANGUAGES:
        raise ValidationError({"language": f"Must be one of: {', '.join(LANGUAGES)}."})
    return value


def _kb(value: Any) -> KnowledgeBase:
    """The knowledge base a request names (an id, a row or nothing: the default one)."""
    if isinstance(value, KnowledgeBase):
        return value
    try:
        return selectors.knowledge_base_get(int(value) if value else None)
    except (KnowledgeBase.DoesNotExist, ValueError, TypeError) as exc:
        raise InvalidText("Unknown knowledge base.") from exc


def _kb_id(value: Any) -> int:
    return _kb(value).pk
