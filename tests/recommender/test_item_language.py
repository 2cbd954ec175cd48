"""Items store the language of their copy (Chinese descriptions included) and the item list
filters by it."""

from __future__ import annotations

from typing import Any

import pytest

from apps.recommender import services
from apps.recommender.catalog_import import items_import
from apps.recommender.demo import catalog_content
from apps.recommender.models import Item

pytestmark = pytest.mark.django_db


def test_the_demo_catalog_imports_its_chinese_items_as_chinese() -> None:
    lines = [line for line in catalog_content().splitlines() if '"TH-000' in line or "ZH-" in line]

    result = items_import(content="\n".join(lines), fmt="jsonl", embed=False)

    assert not result.errors
    assert Item.objects.get(sku="ZH-0003").language == "zh"
    assert Item.objects.get(sku="TH-0001").language == "en"


def test_an_edited_description_changes_the_language(merchandiser: Any) -> None:
    data = {"sku": "MUG-1", "title": "Enamel mug", "category": "Kitchen", "price": "9.00"}
    data["description"] = "A sturdy enamel mug for camp coffee, light and hard to break."
    item = services.item_save(data=data)
    assert item.language == "en"

    data["title"], data["description"] = "搪瓷杯", "结实的搪瓷杯，适合露营时煮咖啡，轻便耐摔。"
    item = services.item_save(data=data, item_id=item.pk)

    assert Item.objects.get(pk=item.pk).language == "zh"


def test_the_item_list_filters_by_language_and_refuses_an_unknown_code(client: Any) -> None:
    lines = [line for line in catalog_content().splitlines() if '"TH-000' in line or "ZH-" in line]
    items_import(content="\n".join(lines), fmt="jsonl", embed=False)

    chinese = client.get("/api/items", {"language": "zh"})
    bad = client.get("/api/items", {"language": "xx"})

    assert chinese.status_code == 200
    body = chinese.json()
    listed = body["results"] if isinstance(body, dict) else body
    assert {i["sku"] for i in listed} == {f"ZH-000{n}" for n in range(1, 7)}
    assert bad.status_code == 400
