"""Alert rules: the one write path of the page, the API and the admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from ..models import AlertRule

# What a rule's editor may set; `entities` (companies or their ids) is a many-to-many field.
RULE_FIELDS = (
    "name",
    "entities",
    "topics",
    "metric",
    "mode",
    "sensitivity",
    "threshold",
    "window_hours",
    "min_volume",
    "cooldown_hours",
    "delivery",
    "active",
)


@transaction.atomic
def rule_save(*, owner_id: int, values: Mapping[str, Any], rule_id: int | None = None) -> AlertRule:
    """Create a rule for `owner_id`, or edit rule `rule_id` (given to `owner_id`).

    `values` holds already validated fields (a form's or a serializer's); a field it leaves
    out keeps its current value (or the model's default for a new rule). Whether the caller
    may edit the rule is the caller's check."""
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"not a rule field: {', '.join(sorted(unknown))}")
    if rule_id is None:
        rule = AlertRule(owner_id=owner_id)
    else:
        rule = AlertRule.objects.select_for_update().get(pk=rule_id)
        rule.owner_id = owner_id
    changed = ["owner"]
    for name, value in values.items():
        if name != "entities":
            setattr(rule, name, value)
            changed.append(name)
    if rule_id is None:
        rule.save()
    else:
        rule.save(update_fields=changed)
    if "entities" in values:
        rule.entities.set(values["entities"])
    return rule


@transaction.atomic
def rule_delete(*, rule_id: int) -> None:
    """Delete an alert rule (its alerts go with it)."""
    AlertRule.objects.filter(pk=rule_id).delete()
