"""Storefront pages (anyone) and merchandiser pages (catalog, settings, experiments)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.accounts.models import Role
from apps.accounts.roles import role_required
from apps.core.upload_jobs import capped_upload

from . import catalog_import, selectors, services
from .models import Event, Experiment, Item, Variant

COOKIE_AGE = 365 * 24 * 3600


def _shopper(request: HttpRequest) -> services.Shopper:
    visitor_id = services.visitor_cookie(request) or getattr(request, "_new_visitor", "")
    if not visitor_id:
        visitor_id = services.visitor_id_new()
        request._new_visitor = visitor_id  # type: ignore[attr-defined]
    if request.user.is_authenticated:
        # The tracker reports with the browser's visitor id only; it must speak for the account
        # even when the cookie was first set after sign-in.
        services.visitor_link(visitor_id=visitor_id, user_id=request.user.pk)
        return services.Shopper(user_id=request.user.pk, visitor_id=visitor_id)
    return services.Shopper(visitor_id=visitor_id)


def storefront(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Give every storefront visitor a stable anonymous id (cookie) the tracker reports with."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        new = getattr(request, "_new_visitor", "")
        if new and not services.visitor_cookie(request):
            response.set_cookie(
                services.VISITOR_COOKIE, new, max_age=COOKIE_AGE, samesite="Lax", httponly=True
            )
        return response

    return wrapped


def _cart(request: HttpRequest) -> dict[str, int]:
    return dict(request.session.get("cart", {}))


def _base_context(request: HttpRequest, shopper: services.Shopper) -> dict[str, Any]:
    return {
        "visitor_id": shopper.visitor_id,
        "cart_count": sum(_cart(request).values()),
        "categories": selectors.categories(),
    }


@storefront
def home(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    category = request.GET.get("category", "")
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.item_list(category=category, query=query), 24).get_page(
        request.GET.get("page")
    )
    for_you = selectors.recommendations_get(shopper=shopper, context="home", n=8)
    trending = selectors.recommendations_get(
        shopper=shopper, context="home", n=8, strategy="popular"
    )
    return render(
        request,
        "recommender/home.html",
        {
            **_base_context(request, shopper),
            "for_you": for_you,
            "trending": trending,
            "page": page,
            "category": category,
            "query": query,
        },
    )


@storefront
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    shopper = _shopper(request)
    item = get_object_or_404(Item, pk=item_id, active=True)
    context = f"item:{item.pk}"
    similar = selectors.recommendations_get(
        shopper=shopper, context=context, n=6, strategy="text", only_context=True
    )
    together = selectors.recommendations_get(
        shopper=shopper, context=context, n=6, strategy="collaborative", only_context=True
    )
    for_you = selectors.recommendations_get(shopper=shopper, context=context, n=6)
    reviews = item.events.filter(kind=Event.Kind.RATING).order_by("-created")[:10]
    return render(
        request,
        "recommender/item.html",
        {
            **_base_context(request, shopper),
            "item": item,
            "similar": similar,
            "together": together,
            "for_you": for_you,
            "reviews": reviews,
        },
    )


@require_POST
@storefront
def cart_add(request: HttpRequest, item_id: int) -> HttpResponse:
    shopper = _shopper(request)
    item = get_object_or_404(Item, pk=item_id, active=True)
    cart = _cart(request)
    if not item.in_stock:
        messages.error(request, f"{item.title} is out of stock.")
        return redirect(item)
    cart[str(item.pk)] = min(cart.get(str(item.pk), 0) + 1, item.stock)
    request.session["cart"] = cart
    services.event_record(
        shopper=shopper,
        kind=Event.Kind.ADD_TO_CART,
        item_id=item.pk,
        context=request.POST.get("context", "")[:80],
    )
    messages.success(request, f"Added {item.title} to your cart.")
    return redirect("recommender:cart")


@require_POST
@storefront
def cart_remove(request: HttpRequest, item_id: int) -> HttpResponse:
    cart = _cart(request)
    cart.pop(str(item_id), None)
    request.session["cart"] = cart
    return redirect("recommender:cart")


@storefront
def cart_view(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    cart = _cart(request)
    items = {str(i.pk): i for i in Item.objects.filter(pk__in=[int(k) for k in cart])}
    lines = [(items[k], q, items[k].price * q) for k, q in cart.items() if k in items]
    complete = (
        selectors.recommendations_get(
            shopper=shopper, context="cart", n=6, cart=[int(k) for k in cart]
        )
        if lines
        else None
    )
    return render(
        request,
        "recommender/cart.html",
        {
            **_base_context(request, shopper),
            "lines": lines,
            "total": sum((total for _, _, total in lines), Decimal("0")),
            "complete": complete,
        },
    )


@require_POST
@storefront
def checkout(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    cart = _cart(request)
    if not cart:
        messages.error(request, "Your cart is empty.")
        return redirect("recommender:cart")
    result = services.checkout_complete(shopper=shopper, cart=cart)
    for title, why in result.refused:
        if why == "withdrawn":
            messages.error(request, f"{title} is no longer sold and was removed.")
        else:
            messages.error(request, f"{title}: not enough stock left; it stays in your cart.")
    # Only what was ordered leaves the cart: a line that could not be sold stays for the shopper.
    request.session["cart"] = result.cart
    if result.bought:
        messages.success(request, "Thank you! Ordered: " + ", ".join(result.bought))
    return redirect("recommender:cart" if result.cart else "recommender:home")


@require_POST
@storefront
def review(request: HttpRequest, item_id: int) -> HttpResponse:
    shopper = _shopper(request)
    item = get_object_or_404(Item, pk=item_id, active=True)
    try:
        rating = float(request.POST.get("rating", ""))
    except ValueError:
        rating = -1
    if not 1 <= rating <= 5:
        messages.error(request, "Choose a rating from 1 to 5 stars.")
        return redirect(item)
    text = request.POST.get("text", "").strip()[:5000]
    services.event_record(
        shopper=shopper, kind=Event.Kind.RATING, item_id=item.pk, rating=rating, text=text
    )
    messages.success(request, "Thanks for your review.")
    return redirect(item)


CATEGORY_COLOURS = ["#5b8def", "#3fa37c", "#d9822b", "#9b59b6", "#c0392b", "#16a085", "#7f8c8d"]


def placeholder(request: HttpRequest, item_id: int) -> HttpResponse:
    """A neutral SVG tile per category (no external images)."""
    item = Item.objects.filter(pk=item_id).values("title", "category").first()
    if item is None:
        raise Http404("no such item")
    digest = int(hashlib.sha1(item["category"].encode()).hexdigest(), 16)
    colour = CATEGORY_COLOURS[digest % len(CATEGORY_COLOURS)]
    initials = "".join(w[0] for w in item["category"].split()[:2]).upper()
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="220" viewBox="0 0 320 220">'
        f'<rect width="320" height="220" fill="{colour}" opacity="0.16"/>'
        f'<circle cx="160" cy="96" r="46" fill="{colour}" opacity="0.55"/>'
        f'<text x="160" y="110" font-family="sans-serif" font-size="38" fill="#fff" '
        f'text-anchor="middle">{initials}</text>'
        f'<text x="160" y="186" font-family="sans-serif" font-size="16" fill="#1d2330" '
        f'text-anchor="middle">{_xml(item["category"])}</text></svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- merchandiser pages ----------------------------------------------------------------------------
SETTINGS_LABELS = {
    "feedback_weights": "feedback weights:",
    "exclude_purchased": "never recommend what was bought:",
    "diversity": "diversity",
    "category_cap": "the category cap",
    "trending_half_life_days": "the trending half-life",
    "default_strategy": "default strategy:",
}


def _settings_from_post(post: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings form's values as numbers, and the fields that are not numbers at all
    (range checks are services.settings_problems', shared with the API and the admin)."""
    # An unticked box is absent from a form post: it means "no".
    values: dict[str, Any] = {"exclude_purchased": post.get("exclude_purchased") == "on"}
    if "default_strategy" in post:
        values["default_strategy"] = post["default_strategy"]
    problems: dict[str, str] = {}
    weights: dict[str, float] = {}
    for kind in Event.Kind.values:
        raw = post.get(f"w_{kind}", "").strip()
        if raw:
            try:
                weights[kind] = float(raw)
            except ValueError:
                problems["feedback_weights"] = f"the weight of {kind} must be a number"
    values["feedback_weights"] = weights
    for name, key, parse in (
        ("diversity", "diversity", float),
        ("category_cap", "category_cap", int),
        ("trending_half_life_days", "half_life", float),
    ):
        if key not in post:
            continue  # not on the form that was sent: keep the stored value
        try:
            values[name] = parse(post[key].strip())
        except ValueError:
            problems[name] = "must be a whole number" if parse is int else "must be a number"
    return values, problems


def _settings_shown(current: Any, post: Any = None) -> dict[str, Any]:
    """What the settings form shows: the stored values, or after a refused save what was typed
    (so a merchandiser corrects the one bad field instead of typing everything again)."""
    shown = {
        "weights": current.weights(),
        "exclude_purchased": current.exclude_purchased,
        "diversity": current.diversity,
        "category_cap": current.category_cap,
        "half_life": current.trending_half_life_days,
        "default_strategy": current.default_strategy,
    }
    if post is not None:
        shown["weights"] = {
            kind: post.get(f"w_{kind}", weight) for kind, weight in shown["weights"].items()
        }
        shown["exclude_purchased"] = post.get("exclude_purchased") == "on"
        for key in ("diversity", "category_cap", "half_life", "default_strategy"):
            shown[key] = post.get(key, shown[key])
    return shown


@role_required(Role.MERCHANDISER)
@capped_upload
def manage(request: HttpRequest) -> HttpResponse:
    result = None
    refused = None
    if request.method == "POST" and request.POST.get("action") == "import":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a CSV or JSONL file to import.")
        else:
            assert upload.name is not None  # an uploaded file always carries its name
            fmt = "jsonl" if upload.name.lower().endswith((".jsonl", ".json")) else "csv"
            try:
                job, result = catalog_import.catalog_upload_accept(
                    upload=upload, fmt=fmt, user=request.user
                )
            except catalog_import.ImportRefused as exc:
                messages.error(request, f"Import failed: {exc}")
            else:
                if result is None:  # a large file: follow its job
                    return redirect("recommender:catalog_import", job.pk)
                messages.success(
                    request,
                    f"Imported: {result.created} new, "
                    f"{result.updated} updated, {len(result.errors)} "
                    "rows with errors.",
                )
    elif request.method == "POST" and request.POST.get("action") == "settings":
        values, problems = _settings_from_post(request.POST)
        try:
            if problems:
                raise services.SettingsError(problems)
            services.settings_update(values=values)
            messages.success(request, "Settings saved.")
            return redirect("recommender:manage")
        except services.SettingsError as exc:
            refused = request.POST
            for name, message in exc.errors.items():
                messages.error(request, f"Settings not saved: {SETTINGS_LABELS[name]} {message}.")
    elif request.method == "POST" and request.POST.get("action") == "retrain":
        run = services.retrain_start(user=request.user)
        messages.success(
            request, f"Training run #{run.pk} queued; it is promoted only if NDCG@10 does not drop."
        )
        return redirect("recommender:manage")
    from apps.mlops.models import ModelVersion

    current = selectors.settings_get()
    return render(
        request,
        "recommender/manage.html",
        {
            "result": result,
            "settings": current,
            "shown": _settings_shown(current, refused),
            "strategies": Variant.STRATEGIES,
            "items_total": Item.objects.count(),
            "items_active": Item.objects.filter(active=True).count(),
            "events_total": Event.objects.count(),
            "versions": ModelVersion.objects.filter(name=services.MODEL_NAME).order_by("-version")[
                :5
            ],
        },
    )


@role_required(Role.MERCHANDISER)
def experiments(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        variants = []
        for n in range(1, 5):
            name = request.POST.get(f"v{n}_name", "").strip()
            if name:
                variants.append(
                    {
                        "name": name,
                        "strategy": request.POST.get(f"v{n}_strategy", "ranker"),
                        "weight": request.POST.get(f"v{n}_weight", "1") or "1",
                        "diversity": request.POST.get(f"v{n}_diversity", ""),
                    }
                )
        try:
            experiment = services.experiment_create(
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                variants=variants,
            )
            messages.success(request, f"Experiment {experiment} created (draft).")
            return redirect("recommender:experiment", experiment.pk)
        except ValueError as exc:
            messages.error(request, str(exc))
    return render(
        request,
        "recommender/experiments.html",
        {
            "experiments": Experiment.objects.prefetch_related("variants"),
            "strategies": Variant.STRATEGIES,
            "slots": range(1, 5),
        },
    )


@role_required(Role.MERCHANDISER)
def experiment_detail(request: HttpRequest, experiment_id: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=experiment_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "start":
                services.experiment_start(experiment_id=experiment.pk)
            elif action == "stop":
                services.experiment_stop(experiment_id=experiment.pk)
            elif action == "ship":
                services.experiment_ship(
                    experiment_id=experiment.pk, variant=request.POST.get("variant", "")
                )
            else:
                raise ValueError("unknown action")
            messages.success(request, f"Experiment {action}: done.")
        except ValueError as exc:
            messages.error(request, str(exc))
        return redirect("recommender:experiment", experiment.pk)
    rows = selectors.experiment_report(experiment=experiment)
    return render(
        request,
        "recommender/experiment.html",
        {
            "experiment": experiment,
            "rows": rows,
            "chart": {
                "labels": [r.name for r in rows],
                "ctr": [round(r.ctr * 100, 2) for r in rows],
                "ctr_low": [round(r.ctr_low * 100, 2) for r in rows],
                "ctr_high": [round(r.ctr_high * 100, 2) for r in rows],
            },
        },
    )


@role_required(Role.MERCHANDISER)
def catalog_import_page(request: HttpRequest, job_id: int) -> HttpResponse:
    """A catalog import's progress; while it runs, the card asks again every 2 s (htmx)."""
    job = catalog_import.catalog_import_get(job_id=job_id)
    if job is None:
        raise Http404("no such catalog import")
    fragment = bool(request.headers.get("HX-Request"))
    template = "recommender/_catalog_import.html" if fragment else "recommender/catalog_import.html"
    return render(request, template, {"job": job})
