"""Storefront pages (anyone): home, item, cart, checkout, reviews, placeholder images."""

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

from .. import selectors, services
from ..models import Event, Item

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


def _filters(request: HttpRequest) -> tuple[selectors.Filters, dict[str, str]]:
    """The shopper's category and price filters from the address, and what is wrong with them
    (a bad value is shown and answered with 400; the page still renders without it)."""
    try:
        return selectors.filters_parse(request.GET), {}
    except selectors.FilterError as exc:
        return selectors.Filters(), exc.errors


@storefront
def home(request: HttpRequest) -> HttpResponse:
    shopper = _shopper(request)
    category = request.GET.get("category", "")
    query = request.GET.get("q", "").strip()
    filters, problems = _filters(request)
    items = selectors.item_list(category=category, query=query)
    if filters.min_price is not None:
        items = items.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        items = items.filter(price__lte=filters.max_price)
    page = Paginator(items, 24).get_page(request.GET.get("page"))
    return render(
        request,
        "recommender/home.html",
        {
            **_base_context(request, shopper),
            "rails": selectors.home_rails(shopper=shopper, filters=filters, n=8),
            "page": page,
            "category": category,
            "query": query,
            "min_price": request.GET.get("min_price", ""),
            "max_price": request.GET.get("max_price", ""),
            "filter_problems": problems,
            "filtered": bool(filters),
        },
        status=400 if problems else 200,
    )


@storefront
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    shopper = _shopper(request)
    item = get_object_or_404(Item, pk=item_id, active=True)
    filters, problems = _filters(request)
    reviews = item.events.filter(kind=Event.Kind.RATING).order_by("-created")[:10]
    return render(
        request,
        "recommender/item.html",
        {
            **_base_context(request, shopper),
            "item": item,
            "rails": selectors.item_rails(shopper=shopper, item_id=item.pk, filters=filters),
            "filter_problems": problems,
            "reviews": reviews,
        },
        status=400 if problems else 200,
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
            shopper=shopper, context="cart", n=6, cart=[int(k) for k in cart], rail="cart"
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


# Dark enough that white text on them passes WCAG AA (4.5:1).
CATEGORY_COLOURS = ["#2457d6", "#17663a", "#9a4a00", "#6d3fa0", "#b42318", "#0f6e62", "#4b5563"]


def _initials(title: str) -> str:
    words = [w for w in title.replace("-", " ").split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def placeholder(request: HttpRequest, item_id: int) -> HttpResponse:
    """A clean tile per item when it has no photo: the item's initials on its category's colour,
    its name and category below (SVG, no external images)."""
    item = Item.objects.filter(pk=item_id).values("title", "category").first()
    if item is None:
        raise Http404("no such item")
    digest = int(hashlib.sha1(item["category"].encode()).hexdigest(), 16)
    colour = CATEGORY_COLOURS[digest % len(CATEGORY_COLOURS)]
    title = item["title"] if len(item["title"]) <= 30 else item["title"][:29] + "…"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="220" viewBox="0 0 320 220" '
        f'role="img" aria-label="{_xml(item["title"])}">'
        f'<rect width="320" height="220" fill="{colour}"/>'
        '<circle cx="160" cy="88" r="50" fill="#fff" opacity="0.16"/>'
        '<text x="160" y="104" font-family="sans-serif" font-size="44" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{_xml(_initials(item["title"]))}</text>'
        '<text x="160" y="172" font-family="sans-serif" font-size="17" fill="#fff" '
        f'text-anchor="middle">{_xml(title)}</text>'
        '<text x="160" y="198" font-family="sans-serif" font-size="13" fill="#fff" '
        f'opacity="0.9" text-anchor="middle">{_xml(item["category"])}</text></svg>'
    )
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def _xml(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
