"""Catalog imports: size and row caps, streamed reading, bulk storing, large files as jobs."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.recommender import catalog_import
from apps.recommender.models import CatalogImport, Item
from tests.recommender.factories import ItemFactory

from .helpers import api_as

HEADER = b"sku,title,category,price,stock\n"


def _catalog(rows: int, *, start: int = 0) -> bytes:
    body = b"".join(
        b"SKU-%d,Trail mug %d,Outdoor,%d.50,%d\n" % (i, i, i % 90 + 1, i % 7)
        for i in range(start, start + rows)
    )
    return HEADER + body


def _post_file(client: Any, content: bytes, name: str = "items.csv") -> Any:
    return client.post("/api/items/import", {"file": SimpleUploadedFile(name, content)})


@pytest.fixture
def shop_admin(client, merchandiser, settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path
    client.force_login(merchandiser)
    return client


@pytest.fixture
def stored_item(db) -> Item:  # type: ignore[no-untyped-def]
    return ItemFactory(
        sku="KEEP-1", title="Ridgeline tent", category="Outdoor", price=Decimal("279.00"), stock=4
    )


def _untouched(item: Item) -> None:
    now = Item.objects.get(pk=item.pk)
    assert (now.title, now.price, now.stock) == (item.title, item.price, item.stock)


def _stored_files(settings: Any) -> list[Path]:
    folder = Path(settings.DATA_DIR) / "uploads"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_an_oversized_catalog_file_is_refused_with_nothing_stored(  # type: ignore[no-untyped-def]
    shop_admin, settings, stored_item
) -> None:
    settings.UPLOAD_MAX_BYTES = 2000

    api = _post_file(shop_admin, _catalog(100))
    page = shop_admin.post(
        "/shop/manage/",
        {"action": "import", "file": SimpleUploadedFile("items.csv", _catalog(100))},
    )
    pasted = shop_admin.post(
        "/api/items/import",
        {"content": _catalog(100).decode() * 100, "format": "csv"},
        content_type="application/json",
    )

    assert api.status_code == 413 and "UPLOAD_MAX_BYTES" in api.json()["detail"]
    assert page.status_code == 413
    assert pasted.status_code == 413
    assert Item.objects.count() == 1 and CatalogImport.objects.count() == 0
    assert _stored_files(settings) == []
    _untouched(stored_item)


def test_a_catalog_file_over_the_row_cap_is_refused_with_nothing_stored(  # type: ignore[no-untyped-def]
    shop_admin, settings, stored_item
) -> None:
    settings.UPLOAD_MAX_ROWS = 10

    response = _post_file(shop_admin, _catalog(11) + b"KEEP-1,Renamed,Outdoor,1.00,0\n")

    assert response.status_code == 400
    assert "more than 10 rows" in response.json()["file"][0]
    assert Item.objects.count() == 1 and _stored_files(settings) == []
    _untouched(stored_item)


def test_a_large_catalog_file_becomes_a_job_that_completes_with_the_right_counts(  # type: ignore[no-untyped-def]
    shop_admin, settings, stored_item, django_capture_on_commit_callbacks
) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 1000
    content = (
        _catalog(1200)
        + b"KEEP-1,Ridgeline tent (2026),Outdoor,,\n"
        + b"BAD-1,No price,Outdoor,cheap,1\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_file(shop_admin, content)

    assert response.status_code == 202, response.content[:300]
    job = shop_admin.get(response.json()["job"]["url"]).json()
    assert job["status"] == "done" and job["percent"] == 100
    assert (job["rows_total"], job["rows_done"]) == (1202, 1202)
    assert job["result"] == {"created": 1200, "updated": 1}
    assert [(e["line"], e["sku"]) for e in job["errors"]] == [(1203, "BAD-1")]
    assert Item.objects.count() == 1201
    updated = Item.objects.get(sku="KEEP-1")
    # Blank price and stock cells keep the stored values; the title changes.
    assert (updated.title, updated.price, updated.stock) == (
        "Ridgeline tent (2026)",
        Decimal("279.00"),
        4,
    )
    assert Item.objects.get(sku="SKU-1199").price == Decimal("30.50")
    assert _stored_files(settings) == []
    page = shop_admin.get(f"/shop/manage/imports/{job['id']}/")
    assert page.status_code == 200 and "1200" in page.content.decode()


def test_a_sku_repeated_in_a_file_is_created_once_then_updated(shop_admin, settings) -> None:  # type: ignore[no-untyped-def]
    content = HEADER + b"MUG-1,Mug,Kitchen,5,1\nMUG-1,Mug (blue),Kitchen,,\n"

    response = _post_file(shop_admin, content)

    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"]) == (1, 1)
    mug = Item.objects.get(sku="MUG-1")
    assert (mug.title, mug.price, mug.stock) == ("Mug (blue)", Decimal("5.00"), 1)


def test_a_catalog_file_in_latin1_past_its_first_rows_is_read_as_windows_1252(  # type: ignore[no-untyped-def]
    shop_admin, settings, stored_item, django_capture_on_commit_callbacks
) -> None:
    # The encoding is decided on the whole file (apps.core.encodings), not on its first rows:
    # a Latin-1 byte far down is Windows-1252 text, as in the sentiment uploads.
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    content = _catalog(500) + "KEEP-1,Caf\u00e9 tent,Outdoor,1.00,0\n".encode("latin-1")

    with django_capture_on_commit_callbacks(execute=True):
        response = _post_file(shop_admin, content)

    assert response.status_code == 202
    job = CatalogImport.objects.get(pk=response.json()["job"]["id"])
    assert job.status != CatalogImport.Status.FAILED, job.message
    assert Item.objects.get(sku="KEEP-1").title == "Caf\u00e9 tent"
    assert _stored_files(settings) == []


def test_a_bad_header_is_refused_in_the_request(shop_admin, settings) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_INLINE_MAX_BYTES = 100

    response = _post_file(shop_admin, b"name,cost\n" + b"x,1\n" * 100)

    assert response.status_code == 400 and "sku" in response.json()["file"][0]
    assert CatalogImport.objects.count() == 0 and _stored_files(settings) == []


def test_a_catalog_job_runs_once_however_often_its_task_is_delivered(shop_admin, settings) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    job_id = _post_file(shop_admin, _catalog(20)).json()["job"]["id"]

    first = catalog_import.catalog_import_run(job_id=job_id)
    again = catalog_import.catalog_import_run(job_id=job_id)

    assert first is not None and first[0].status == CatalogImport.Status.DONE
    assert again is None and Item.objects.count() == 20


def test_only_merchandisers_follow_catalog_imports(shop_admin, settings, client) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_INLINE_MAX_BYTES = 100
    job_id = _post_file(shop_admin, _catalog(20)).json()["job"]["id"]
    client.logout()

    assert client.get(f"/api/items/imports/{job_id}").status_code in (401, 403)
    assert client.get(f"/shop/manage/imports/{job_id}/").status_code == 302


def test_catalog_rows_are_read_a_line_at_a_time() -> None:
    consumed: list[str] = []

    def lines() -> Any:
        yield "sku,title,category,price\n"
        for i in range(1_000_000):
            consumed.append("x")
            yield f"S-{i},Mug,Kitchen,1\n"

    rows = catalog_import._rows_iter(lines(), "csv")  # type: ignore[arg-type]
    first = next(rows)

    assert first == (2, {"sku": "S-0", "title": "Mug", "category": "Kitchen", "price": "1"})
    assert len(consumed) <= 2  # not the million lines behind it


def test_a_catalog_file_is_never_read_whole(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "items.jsonl"
    path.write_bytes(b"".join(b'{"sku": "S-%d", "title": "Mug"}\n' % i for i in range(100_000)))
    reads: list[int] = []

    class Recorder(io.BufferedReader):
        def read(self, size: int | None = -1) -> bytes:
            assert size is not None and size >= 0, "the whole file was read at once"
            reads.append(size)
            return super().read(size)

        def read1(self, size: int = -1) -> bytes:
            assert size >= 0, "the whole file was read at once"
            reads.append(size)
            return super().read1(size)

    rows = catalog_import._rows_iter(
        io.TextIOWrapper(Recorder(io.FileIO(path)), encoding="utf-8-sig"), "jsonl"
    )

    assert sum(1 for _ in rows) == 100_000
    assert reads and max(reads) < path.stat().st_size // 4


def test_the_capped_management_page_still_requires_the_csrf_token(
    merchandiser, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    settings.DATA_DIR = tmp_path
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(merchandiser)

    response = browser.post(
        "/shop/manage/", {"action": "import", "file": SimpleUploadedFile("items.csv", _catalog(3))}
    )

    assert response.status_code == 403 and Item.objects.count() == 0


def test_a_catalog_import_whose_task_was_lost_is_run_by_the_rescue(shop_admin, settings) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from django.utils import timezone

    from apps.recommender.tasks import catalog_imports_rescue_task

    settings.UPLOAD_INLINE_MAX_BYTES = 100
    job_id = _post_file(shop_admin, _catalog(20)).json()["job"]["id"]  # its task never sent

    assert catalog_imports_rescue_task() == 0
    long_ago = timezone.now() - timedelta(minutes=16)
    CatalogImport.objects.filter(pk=job_id).update(updated_at=long_ago)

    assert catalog_imports_rescue_task() == 1
    assert CatalogImport.objects.get(pk=job_id).status == CatalogImport.Status.DONE
    assert Item.objects.count() == 20


@pytest.mark.django_db
def test_a_price_only_import_keeps_the_columns_it_leaves_out(catalog):
    before = Item.objects.get(sku="TENT-1")
    content = "sku,title,category,price\nTENT-1,Ridgeline tent,Outdoor,99.00\n"

    result = catalog_import.items_import(content=content, fmt="csv", embed=False)

    after = Item.objects.get(sku="TENT-1")
    assert (result.updated, result.errors) == (1, [])
    assert after.price == 99 and after.title == "Ridgeline tent"
    assert (after.stock, after.description, after.tags) == (
        before.stock,
        before.description,
        before.tags,
    )
    assert after.active and after.in_stock


@pytest.mark.django_db
def test_a_jsonl_update_naming_only_the_stock_keeps_the_rest(catalog):
    before = Item.objects.get(sku="PAN-1")

    catalog_import.items_import(content='{"sku": "PAN-1", "stock": 3}\n', fmt="jsonl", embed=False)

    after = Item.objects.get(sku="PAN-1")
    assert after.stock == 3
    assert (after.title, after.price, after.category) == (
        before.title,
        before.price,
        before.category,
    )


@pytest.mark.django_db
def test_a_blank_active_cell_does_not_take_an_item_off_sale(db):
    content = (
        "sku,title,category,price,active\nMUG-1,Enamel mug,Kitchen,5,\nMUG-2,Old mug,Kitchen,5,no\n"
    )

    catalog_import.items_import(content=content, fmt="csv", embed=False)

    assert Item.objects.get(sku="MUG-1").active
    assert not Item.objects.get(sku="MUG-2").active


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("price", "NaN", "price must be a number from 0"),
        ("price", "1e30", "price must be a number from 0"),
        ("price", "100000000", "price must be a number from 0"),
        ("stock", "99999999999", "stock must be a whole number from 0"),
        ("boost", "nan", "boost must be a finite number"),
        ("boost", "inf", "boost must be a finite number"),
    ],
)
def test_an_import_row_with_an_impossible_number_is_a_line_error(
    catalog, merchandiser, column, value, problem
):
    rows = [("ODD-1", "Odd", value), ("OK-1", "Fine", "1")]
    if column == "price":
        content = "sku,title,category,price\n" + "".join(
            f"{s},{t},Kitchen,{v}\n" for s, t, v in rows
        )
    else:
        header = f"sku,title,category,price,{column}\n"
        content = header + "".join(f"{s},{t},Kitchen,2,{v}\n" for s, t, v in rows)

    response = api_as(merchandiser).post("/api/items/import", {"content": content}, format="json")

    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert [(e["line"], e["sku"]) for e in response.json()["errors"]] == [(2, "ODD-1")]
    assert problem in response.json()["errors"][0]["error"]
    assert not Item.objects.filter(sku="ODD-1").exists()
    assert api_as(merchandiser).get("/api/items").status_code == 200


@pytest.mark.django_db
def test_an_import_row_with_a_nul_character_is_a_line_error(catalog, merchandiser):
    content = (
        '{"sku": "NUL-1", "title": "Bad\\u0000title", "category": "Kitchen", "price": 1}\n'
        '{"sku": "OK-2", "title": "Good", "category": "Kitchen", "price": 1}\n'
    )

    response = api_as(merchandiser).post(
        "/api/items/import", {"content": content, "format": "jsonl"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["errors"] == [
        {"line": 1, "sku": "NUL-1", "error": "title contains a NUL character"}
    ]
    assert Item.objects.filter(sku="OK-2").exists() and not Item.objects.filter(sku="NUL-1")
