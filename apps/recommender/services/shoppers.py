"""Who a request is about: visitors, their cookie, and joining their history to an account."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import Event, Visitor
from ._common import shopper_changed

VISITOR_COOKIE = "tsv"


@dataclass(frozen=True)
class Shopper:
    """Who a request is about: a signed-in account or an anonymous visitor id."""

    user_id: int | None = None
    visitor_id: str = ""

    @property
    def key(self) -> str:
        return f"u{self.user_id}" if self.user_id else f"v{self.visitor_id}"


def visitor_id_new() -> str:
    return uuid.uuid4().hex


@transaction.atomic
def visitor_merge(*, visitor_id: str, user_id: int) -> int:
    """Join an anonymous visitor's history to their account (at sign-in); returns events moved."""
    if not visitor_id:
        return 0
    visitor, _ = Visitor.objects.get_or_create(visitor_id=visitor_id)
    Visitor.objects.filter(pk=visitor.pk).update(user_id=user_id, merged_at=timezone.now())
    moved = Event.objects.filter(visitor_id=visitor_id, user__isnull=True).update(user_id=user_id)
    shopper_changed(shopper_key=Shopper(user_id=user_id).key)
    shopper_changed(shopper_key=Shopper(visitor_id=visitor_id).key)
    return moved


def visitor_link(*, visitor_id: str, user_id: int) -> None:
    """Make sure a signed-in shopper's browser id speaks for their account: a visitor id
    first seen after sign-in (or last linked to someone else) gets the account too, so the
    tracker's views and clicks join the account's history."""
    if visitor_id and not Visitor.objects.filter(visitor_id=visitor_id, user_id=user_id).exists():
        visitor_merge(visitor_id=visitor_id, user_id=user_id)


def visitor_cookie(request: Any) -> str:
    """The browser's visitor id from the `tsv` cookie, or "" when it has none or a value no
    server ever set (too long, control characters): such a cookie is replaced, not stored."""
    value = request.COOKIES.get(VISITOR_COOKIE, "") if request is not None else ""
    if not value or len(value) > 64 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return str(value)


def visitor_merge_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The `user_logged_in` receiver: the browser's anonymous history joins the account."""
    visitor_id = visitor_cookie(request)
    if visitor_id:
        visitor_merge(visitor_id=visitor_id, user_id=user.pk)
