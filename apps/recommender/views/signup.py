"""A shopper's sign-up: an account plus the answers their first recommendations start from."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from .. import selectors, services
from ..models import ShopperProfile
from .storefront import _base_context, _shopper, storefront


@storefront
def signup(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    known = selectors.categories()
    errors: dict[str, str] = {}
    if request.method == "POST":
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
        status=400 if errors else 200,
    )
