"""The merchandiser's pins and boosts, and a preview of any shopper's rails with their reasons."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from apps.accounts.face import Role, role_required

from .. import selectors, services
from ..models import Boost, Item, Pin


def _item_ref(raw: str) -> Any:
    """An item id, or the id of the item with this SKU (what a merchandiser has at hand)."""
    raw = raw.strip()
    if raw.isdigit():
        return raw
    found = Item.objects.filter(sku=raw).values_list("pk", flat=True).first()
    return found if found is not None else raw


def _preview(request: HttpRequest) -> tuple[list[Any], str]:
    """Rails as the chosen shopper sees them, or a note on what was wrong with the choice."""
    who = request.GET.get("shopper", "").strip()[:64]
    if not who:
        return [], ""
    shopper = (
        services.Shopper(user_id=int(who)) if who.isdigit() else services.Shopper(visitor_id=who)
    )
    try:
        filters = selectors.filters_parse(request.GET)
    except selectors.FilterError as exc:
        return [], "; ".join(exc.errors.values())
    item = request.GET.get("item", "").strip()
    if item:
        item_id = _item_ref(item)
        if not Item.objects.filter(pk=item_id if str(item_id).isdigit() else 0).exists():
            return [], f"no item {item!r}"
        return selectors.item_rails(shopper=shopper, item_id=int(item_id), filters=filters), ""
    return selectors.home_rails(shopper=shopper, filters=filters), ""


@role_required(Role.MERCHANDISER)
def placements(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "pin":
                services.pin_set(
                    item_id=_item_ref(request.POST.get("item", "")),
                    rail=request.POST.get("rail", ""),
                    position=request.POST.get("position", ""),
                    user=request.user,
                )
                messages.success(request, "Pinned.")
            elif action == "boost":
                services.boost_set(
                    item_id=_item_ref(request.POST.get("item", "")),
                    factor=request.POST.get("factor", ""),
                    days=request.POST.get("days", ""),
                    user=request.user,
                )
                messages.success(request, "Boost saved.")
            elif action in ("unpin", "unboost"):
                kind = "pin" if action == "unpin" else "boost"
                pk = services.id_parse(request.POST.get("id"))
                if pk is None or not services.placement_delete(kind=kind, placement_id=pk):
                    messages.error(request, f"That {kind} was already gone.")
                else:
                    messages.success(request, f"{kind.capitalize()} removed.")
            else:
                messages.error(request, "Unknown action.")
        except services.PlacementError as exc:
            for name, problem in exc.errors.items():
                messages.error(request, f"Not saved: {name}: {problem}.")
        return redirect("recommender:placements")
    rails, problem = _preview(request)
    return render(
        request,
        "recommender/placements.html",
        {
            "pins": Pin.objects.select_related("item"),
            "boosts": Boost.objects.filter(expires_at__gt=timezone.now()).select_related("item"),
            "rail_choices": [(r, r.replace("_", " ")) for r in selectors.RAILS],
            "preview": rails,
            "problem": problem,
            "q": request.GET,
            "position_max": services.PIN_POSITION_MAX,
            "factor_range": services.BOOST_FACTOR,
        },
    )
