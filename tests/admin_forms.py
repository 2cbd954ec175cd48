"""The data a Django admin change page would post back unchanged, to edit in a test."""

from __future__ import annotations

from typing import Any


def _posted(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return [_posted(v) for v in value]
    return value


def admin_change_data(client: Any, url: str, **changes: Any) -> dict[str, Any]:
    """The change page's form and inline formsets as they stand, with `changes` applied."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    form = page.context["adminform"].form
    data = {form.add_prefix(name): _posted(form[name].value()) for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        data.update({management.add_prefix(n): management[n].value() for n in management.fields})
        for each in formset.forms:
            data.update({each.add_prefix(n): _posted(each[n].value()) for n in each.fields})
    data.update(changes)
    return {name: value for name, value in data.items() if value is not False}
