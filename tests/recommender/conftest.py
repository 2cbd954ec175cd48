"""Fixtures for the recommender tests: a tiny bag-of-words stand-in for MiniLM (so text
similarity works, fast), isolated index/model folders, a clean cache, a small catalog."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.recommender.factories import ItemFactory

from .helpers import CATALOG, words_embed


@pytest.fixture(autouse=True)
def _isolated(model_dirs, monkeypatch) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    from apps.recommender.selectors import catalog as catalog_selectors
    from config.celery import app

    monkeypatch.setattr("apps.mlops.vectors.texts_embed", words_embed)
    # tests/conftest.py asks for eager Celery after the settings were read; configure the app.
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)
    cache.clear()
    catalog_selectors._snapshot.update(key=None, at=0.0, catalog=None)
    yield
    cache.clear()
    catalog_selectors._snapshot.update(key=None, at=0.0, catalog=None)


@pytest.fixture
def catalog(db) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Twelve items, embedded; returns {sku: Item}."""
    from apps.recommender import services

    items = {}
    for sku, title, category, words in CATALOG:
        items[sku] = ItemFactory(
            sku=sku,
            title=title,
            category=category,
            description=f"A {words}.",
            price=Decimal("50.00"),
            stock=10,
            tags=words.split()[:2],
        )
    services.items_embed(item_ids=[i.pk for i in items.values()])
    return items


@pytest.fixture
def merchandiser(db):  # type: ignore[no-untyped-def]
    from apps.accounts.models import Role
    from apps.accounts.services import user_create

    return user_create(
        username="merch", password="merch", email="m@example.com", roles=[Role.MERCHANDISER.value]
    )
