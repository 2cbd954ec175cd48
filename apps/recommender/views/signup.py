"""A shopper's sign-up: an account plus the answers their first recommendations start from."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.accounts.face import client_ip

from .. import selectors, services
from ..models import ShopperProfile
from .storefront import _base_context, _shopper, storefront

# Accounts one address may open per hour: enough for a shared office, not for a script.
SIGNUPS_PER_HOUR = 10


def _over_limit(request: HttpRequest) -> bool:
    key = f"recommender:signups:{client_ip(request)}"
    cache.add(key, 0, 3600)
    try:
        return int(cache.incr(key)) > SIGNUPS_PER_HOUR
    except ValueError:  # expired between add and incr
        return False


@storefront
def signup(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    known = selectors.categories()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and _over_limit(request):
        errors, status = {"account": "too many sign-ups from your address; try again later"}, 429
    elif request.method == "POST":
        status = 400
        try:
            user = services.shopper_signup(
                username=request.POST.get("username", "")[:200],
                password=request.POST.get("password", ""),
                email=request.POST.get("email", "").strip()[:254],
                region=request.POST.get("region", ""),
                interests=request.POST.getlist("interests"),
                known_categories=known,
            )
        except services.SignupError as exc:
            errors = exc.errors
        else:
            # Signing in joins this browser's views to the new account (user_logged_in).
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.get_username()}! Your shop is ready.")
            return redirect("recommender:home")
    return render(
        request,
        "recommender/signup.html",
        {
            **_base_context(request, shopper),
            "regions": ShopperProfile.Region.choices,
            "known": known,
            "errors": errors,
            "form": request.POST,
            "chosen": request.POST.getlist("interests"),
        },
        status=status if errors else 200,
    )
