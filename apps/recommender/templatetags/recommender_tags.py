from typing import Any

from django import template
from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from ..models import Event

register = template.Library()


@register.simple_tag(takes_context=True)
def support_widget(context: Any) -> SafeString:
    """The customer-service chat widget, when the support app provides it, answering from the
    shop's knowledge base (settings.SHOP_SUPPORT_KB, its slug)."""
    try:
        widget = get_template("support/widget_embed.html")
    except TemplateDoesNotExist:
        return mark_safe("")
    values = {**context.flatten(), "support_widget_kb": settings.SHOP_SUPPORT_KB}
    return mark_safe(widget.render(values, context.get("request")))


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """`{{ metrics|get_item:"ndcg@10" }}` for keys that are not identifiers."""
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return round(value, 4) if isinstance(value, float) else value


@register.filter
def percent(share: float | None, places: int = 1) -> str:
    """A share (0.0725) as a percentage with a fixed number of decimals ("7.3%")."""
    if share is None:
        return "–"
    return f"{float(share) * 100:.{int(places)}f}%"


@register.filter
def event_kind_label(kind: str) -> str:
    """An event kind's name for people ("Add to cart"), not its stored value ("add_to_cart")."""
    return str(dict(Event.Kind.choices).get(kind, str(kind).replace("_", " ").capitalize()))
