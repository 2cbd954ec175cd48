"""Who a request is about: visitors, their cookie, joining their history to an account, and a
shopper's sign-up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Event, ShopperProfile, Visitor
from ._common import shopper_changed

VISITOR_COOKIE = "tsv"


@dataclass(frozen=True)
class Shopper:
    """Who a request is about: a signed-in account or an anonymous visitor id."""

    user_id: int | None = None
    visitor_id: str = ""

    @property
    def key(self) -> str:
        return Event.shopper_key(self.user_id, self.visitor_id)


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


# -- sign-up ---------------------------------------------------------------------------------------
class SignupError(ValueError):
    """A sign-up that cannot be saved; `errors` says what is wrong with each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def profile_clean(*, region: str, interests: list[str], known: list[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if region and region not in ShopperProfile.Region.values:
        errors["region"] = "choose a region from the list"
    unknown = sorted(set(interests) - set(known))
    if unknown:
        errors["interests"] = f"unknown categories: {', '.join(unknown)[:200]}"
    return errors


@transaction.atomic
def shopper_signup(
    *,
    username: str,
    password: str,
    email: str = "",
    region: str = "",
    interests: list[str] | None = None,
    known_categories: list[str],
) -> Any:
    """A new shopper's account and what they told us (region, the categories they shop for);
    their first recommendations start from these."""
    interests = sorted({c for c in interests or [] if c})
    username = username.strip()
    errors = profile_clean(region=region, interests=interests, known=known_categories)
    users = get_user_model()
    if not username or len(username) > 150:
        errors["username"] = "choose a user name of 1 to 150 characters"
    elif users.objects.filter(username__iexact=username).exists():
        errors["username"] = "that user name is taken"
    candidate = users(username=username, email=email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = " ".join(exc.messages)
    if errors:
        raise SignupError(errors)
    try:
        user = users.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:  # a concurrent sign-up took the name
        raise SignupError({"username": "that user name is taken"}) from exc
    ShopperProfile.objects.create(user=user, region=region, interests=interests)
    return user
