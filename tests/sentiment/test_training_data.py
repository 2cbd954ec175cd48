"""Imported labelled sets (page and API; Excel CSVs, NUL characters), the rows a training run
assembles, and a real run."""

from __future__ import annotations

import csv
import hashlib
import itertools
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from apps.accounts.models import Role
from apps.accounts.services import user_create
from apps.mlops.models import ModelVersion
from apps.sentiment import services
from apps.sentiment.models import Correction, LabelledSentence, LabelledSet, Source
from apps.sentiment.training import DEMO_DATA
from apps.sentiment.training_data import (
    labelled_set_import,
    set_ids_parse,
    training_data_assemble,
)
from apps.sentiment.uploads import DocumentRow, LabelledRow, UploadError

pytestmark = pytest.mark.django_db

CSV_WITH_BAD_LINES = (
    b"sentence,label\n"
    b"Profit rose 12% to EUR 40 million.,positive\n"
    b"Sales fell sharply in the quarter.,bearish\n"  # line 3: unknown label
    b",neutral\n"  # line 4: no sentence
    b"The meeting is held in April.,neutral\n"
    b"Profit rose 12% to EUR 40 million.,positive\n"  # line 6: a repeat, dropped quietly
    b"The meeting is held in April.,negative\n"  # line 7: same sentence, another label
    b"Net loss widened to EUR 3 million.,negative\n"
)
PHRASEBANK_WITH_BAD_LINES = (
    b"Operating profit doubled year on year .@positive\n"
    b"The company has 120 employees .@neutral\n"
    b"This line has no label at all\n"  # line 3
    b"\n"
    b"Shares slumped after the warning .@bearish\n"  # line 5
    b"Shares slumped after the profit warning .@negative\n"
)


_notes = itertools.count()


def _correction(*, sentence: str, label: str) -> Correction:
    source = services.source_get_or_create(name="Wire", kind=Source.Kind.API)
    ingested = services.documents_ingest(
        source_id=source.pk,
        rows=[DocumentRow(1, "", "", f"{sentence} (note {next(_notes)})", "", None, "en")],
    )
    return services.correction_create(
        document_id=ingested.created_ids[0], label=label, sentence=sentence
    )


# -- importing -------------------------------------------------------------------------------------
def test_page_import_of_a_csv_reports_bad_lines_and_stores_the_good_rows(analyst_client) -> None:  # type: ignore[no-untyped-def]
    response = analyst_client.post(
        "/sentiment/training/",
        {"name": "Q2 review", "file": SimpleUploadedFile("q2.csv", CSV_WITH_BAD_LINES)},
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert [(e.line, e.reason) for e in result.errors] == [
        (3, "label 'bearish' is not one of negative, neutral, positive"),
        (4, "empty sentence"),
        (7, "the sentence is already on line 5 labelled neutral"),
    ]
    assert result.stored == 3 and result.duplicates == 1
    stored = LabelledSet.objects.get()
    assert stored.name == "Q2 review" and stored.row_count == 3
    assert stored.uploaded_by is not None and stored.uploaded_by.username == "ann"
    assert list(stored.rows.values_list("line", "sentence", "label")) == [
        (2, "Profit rose 12% to EUR 40 million.", "positive"),
        (5, "The meeting is held in April.", "neutral"),
        (8, "Net loss widened to EUR 3 million.", "negative"),
    ]
    page = response.content.decode()
    assert "label &#x27;bearish&#x27; is not one of" in page and "Q2 review" in page


def test_api_import_of_phrasebank_text_reports_bad_lines_and_stores_the_good_rows(
    analyst_client,  # type: ignore[no-untyped-def]
) -> None:
    response = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("Sentences_AllAgree.txt", PHRASEBANK_WITH_BAD_LINES)},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["stored"] == 3 and body["duplicates"] == 0
    assert [e["line"] for e in body["errors"]] == [3, 5]
    assert "sentence@label" in body["errors"][0]["error"]
    assert body["set"]["name"] == "Sentences_AllAgree.txt" and body["set"]["row_count"] == 3
    assert list(
        LabelledSentence.objects.filter(labelled_set_id=body["set"]["id"]).values_list(
            "line", "label"
        )
    ) == [(1, "positive"), (2, "neutral"), (6, "negative")]


def test_api_import_of_a_csv_and_unusable_files(analyst_client) -> None:  # type: ignore[no-untyped-def]
    good = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"name": "Review", "file": SimpleUploadedFile("r.csv", CSV_WITH_BAD_LINES)},
    )
    no_columns = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("x.csv", b"text,sentiment\nProfit rose,positive\n")},
    )
    all_bad = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("y.csv", b"sentence,label\nProfit rose,bullish\n")},
    )

    assert good.status_code == 201 and good.json()["stored"] == 3
    assert [e["line"] for e in good.json()["errors"]] == [3, 4, 7]
    assert no_columns.status_code == 400 and "'sentence' and 'label'" in str(no_columns.json())
    assert all_bad.status_code == 400
    assert all_bad.json()["set"] is None and all_bad.json()["errors"][0]["line"] == 2
    assert LabelledSet.objects.count() == 1  # the unusable files left no empty sets behind


def test_sets_are_listed_and_deleted_on_the_page_and_the_api(analyst_client) -> None:  # type: ignore[no-untyped-def]
    first = labelled_set_import(name="First", data=CSV_WITH_BAD_LINES, filename="a.csv")
    second = labelled_set_import(name="Second", data=PHRASEBANK_WITH_BAD_LINES, filename="b.txt")
    assert first.labelled_set and second.labelled_set

    listed = analyst_client.get("/api/sentiment/training-sets/").json()["results"]
    page = analyst_client.get("/sentiment/training/")
    api_delete = analyst_client.delete(f"/api/sentiment/training-sets/{first.labelled_set.pk}/")
    page_delete = analyst_client.post(f"/sentiment/training/sets/{second.labelled_set.pk}/delete/")

    assert [(s["name"], s["row_count"]) for s in listed] == [("Second", 3), ("First", 3)]
    assert "First" in page.content.decode() and "Second" in page.content.decode()
    assert api_delete.status_code == 204 and page_delete.status_code == 302
    assert not LabelledSet.objects.exists() and not LabelledSentence.objects.exists()


def test_schema_documents_the_multipart_upload(analyst_client) -> None:  # type: ignore[no-untyped-def]
    schema = analyst_client.get("/api/schema/?format=json").json()

    create = schema["paths"]["/api/sentiment/training-sets/"]["post"]
    assert "multipart/form-data" in create["requestBody"]["content"]
    assert "/api/sentiment/training-sets/{id}/" in schema["paths"]


def test_anonymous_users_and_other_roles_cannot_import(client, django_user_model) -> None:  # type: ignore[no-untyped-def]
    def upload_both() -> tuple[int, int]:
        page = client.post(
            "/sentiment/training/", {"file": SimpleUploadedFile("a.csv", CSV_WITH_BAD_LINES)}
        )
        api = client.post(
            "/api/sentiment/training-sets/",
            {"file": SimpleUploadedFile("a.csv", CSV_WITH_BAD_LINES)},
        )
        return page.status_code, api.status_code

    anonymous = upload_both()
    anonymous_list = client.get("/api/sentiment/training-sets/").status_code
    client.force_login(
        user_create(username="mo", password="pw-mo-12345", roles=[Role.MERCHANDISER.value])
    )
    merchandiser = upload_both()

    assert anonymous[0] == 302 and anonymous[1] in (401, 403) and anonymous_list in (401, 403)
    assert merchandiser == (403, 403)
    assert client.get("/sentiment/training/").status_code == 403
    assert not LabelledSet.objects.exists()


# -- what a training run uses ----------------------------------------------------------------------
def test_training_rows_join_base_sets_and_corrections_and_a_correction_wins() -> None:
    base = [
        LabelledRow("Profit rose.", "positive"),
        LabelledRow("The meeting is held in April.", "neutral"),
        LabelledRow("Sales fell.", "negative"),
    ]
    imported = labelled_set_import(
        name="Review",
        data=b"sentence,label\nSales fell.,neutral\nOrders doubled.,positive\n",
        filename="r.csv",
    ).labelled_set
    other = labelled_set_import(
        name="Other", data=b"Costs were cut .@positive\n", filename="o.txt"
    ).labelled_set
    assert imported and other
    _correction(sentence="Orders doubled.", label="neutral")
    _correction(sentence="Profit rose.", label="negative")
    latest = _correction(sentence="Profit rose.", label="neutral")  # the latest one counts

    everything = training_data_assemble(
        base_path="demo.csv", base_rows=base, set_ids=None, include_corrections=True
    )
    one_set = training_data_assemble(
        base_path="demo.csv", base_rows=base, set_ids=[other.pk], include_corrections=False
    )

    labels = {r.sentence: r.label for r in everything.rows}
    assert len(everything.rows) == len(labels) == 5  # each sentence once
    assert labels == {
        "Profit rose.": "neutral",  # corrected twice; the latest correction wins
        "The meeting is held in April.": "neutral",
        "Sales fell.": "neutral",  # the imported set relabels the base row
        "Orders doubled.": "neutral",  # a correction relabels the imported row
        "Costs were cut .": "positive",
    }
    assert [s["name"] for s in everything.sets] == ["Review", "Other"]
    assert everything.corrections == 2 and latest.pk in everything.correction_ids
    assert len(everything.correction_ids) == 3
    assert {r.sentence: r.label for r in one_set.rows} == {
        "Profit rose.": "positive",
        "The meeting is held in April.": "neutral",
        "Sales fell.": "negative",
        "Costs were cut .": "positive",
    }
    with pytest.raises(UploadError, match="no labelled set with id 999"):
        training_data_assemble(
            base_path="demo.csv", base_rows=base, set_ids=[999], include_corrections=False
        )


def test_the_sets_parameter_reads_all_none_and_ids() -> None:
    assert set_ids_parse(None) is None and set_ids_parse("all") is None
    assert set_ids_parse("none") == [] and set_ids_parse([]) == []
    assert set_ids_parse("3, 5") == [3, 5] and set_ids_parse([7]) == [7]
    with pytest.raises(UploadError, match="labelled set ids"):
        set_ids_parse("first,second")


@pytest.mark.slow
def test_a_real_training_run_uses_imported_rows_and_corrections_and_marks_them(
    model_dirs: Path, tmp_path: Path
) -> None:
    picked: dict[str, list[str]] = {"positive": [], "neutral": [], "negative": []}
    with DEMO_DATA.open(newline="") as handle:
        for record in csv.DictReader(handle):
            if len(picked[record["label"]]) < 8:
                picked[record["label"]].append(record["sentence"])
    base_file = tmp_path / "base.csv"
    with base_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence", "label"])
        writer.writerows([s, label] for label, rows in picked.items() for s in rows)
    corrected = picked["positive"][0]
    imported = labelled_set_import(
        name="Analyst review",
        data=b"sentence,label\nOrders doubled to a record high.,positive\n",
        filename="review.csv",
    ).labelled_set
    assert imported is not None
    correction = _correction(sentence=corrected, label="negative")

    out = StringIO()
    call_command(
        "sentiment_train",
        "--data",
        str(base_file),
        "--epochs",
        "1",
        "--max-steps",
        "1",
        "--batch-size",
        "8",
        "--max-length",
        "32",
        "--adversarial-eps",
        "0",
        "--no-promote",
        stdout=out,
    )

    version = ModelVersion.objects.get(name="sentiment")
    used = version.params["training_data"]
    assert used["sets"] == [{"id": imported.pk, "name": "Analyst review", "rows": 1}]
    assert used["corrections"] == 1 and used["base_rows"] == 24
    assert version.data_size == 25
    # The exact rows trained on: the base without the corrected sentence, the imported row,
    # then the correction with its new label.
    expected = [(s, label) for label, rows in picked.items() for s in rows if s != corrected]
    expected += [("Orders doubled to a record high.", "positive"), (corrected, "negative")]
    digest = hashlib.sha256("\n".join(f"{t}\t{y}" for t, y in expected).encode()).hexdigest()
    assert version.data_hash == digest
    assert version.label_distribution == {"positive": 8, "neutral": 8, "negative": 9}
    assert "1 analyst correction(s) join the training set" in out.getvalue()
    correction.refresh_from_db()
    assert correction.used_in_version == version.version


def test_the_train_command_refuses_an_unknown_set(model_dirs: Path) -> None:
    with pytest.raises(CommandError, match="no labelled set with id 42"):
        call_command("sentiment_train", "--sets", "42", "--max-steps", "1", stdout=StringIO())
    assert not ModelVersion.objects.exists()


def test_admin_lists_shows_and_deletes_imported_sets_but_cannot_add_them(admin_client) -> None:  # type: ignore[no-untyped-def]
    imported = labelled_set_import(name="Q2 review", data=CSV_WITH_BAD_LINES, filename="q2.csv")
    assert imported.labelled_set is not None
    stored = imported.labelled_set

    listing = admin_client.get("/admin/sentiment/labelledset/")
    detail = admin_client.get(f"/admin/sentiment/labelledset/{stored.pk}/change/")
    adding = admin_client.get("/admin/sentiment/labelledset/add/")

    assert listing.status_code == 200 and "Q2 review" in listing.content.decode()
    assert (
        detail.status_code == 200
        and "Net loss widened to EUR 3 million." in detail.content.decode()
    )
    assert adding.status_code == 403
    deleted = admin_client.post(
        f"/admin/sentiment/labelledset/{stored.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not LabelledSet.objects.exists() and not LabelledSentence.objects.exists()


def test_an_ml_admin_starts_a_run_on_the_ticked_sets_from_the_page(client, analyst_client) -> None:  # type: ignore[no-untyped-def]
    from apps.mlops.models import TrainingRun

    first = labelled_set_import(name="First", data=CSV_WITH_BAD_LINES, filename="a.csv")
    second = labelled_set_import(name="Second", data=PHRASEBANK_WITH_BAD_LINES, filename="b.txt")
    assert first.labelled_set is not None and second.labelled_set is not None
    # An analyst without the ML admin role sees no form and cannot start a run.
    assert "Train a new model" not in analyst_client.get("/sentiment/training/").content.decode()
    refused = analyst_client.post("/sentiment/training/run/", {"sets": [first.labelled_set.pk]})
    assert refused.status_code == 403 and not TrainingRun.objects.exists()

    lead = user_create(
        username="lea", password="pw-lea-123", roles=[Role.ANALYST.value, Role.ML_ADMIN.value]
    )
    client.force_login(lead)
    page = client.get("/sentiment/training/").content.decode()
    assert "Train a new model" in page and f'value="{second.labelled_set.pk}"' in page
    started = client.post(
        "/sentiment/training/run/",
        {"sets": [str(second.labelled_set.pk)], "include_corrections": "on"},
    )

    run = TrainingRun.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/mlops/runs/{run.pk}/"
    assert run.model_name == "sentiment" and run.promote is False
    assert run.params == {"sets": [second.labelled_set.pk], "include_corrections": True}
    nothing = client.post("/sentiment/training/run/", {"promote": "on"})
    assert nothing.status_code == 302
    assert TrainingRun.objects.latest("pk").params == {"sets": "none", "include_corrections": False}
    assert TrainingRun.objects.latest("pk").promote is True
    unknown = client.post("/sentiment/training/run/", {"sets": ["999999"]})
    assert unknown.status_code == 302 and TrainingRun.objects.count() == 2


def test_an_unreadable_csv_row_is_a_line_error_and_the_rows_before_it_are_stored() -> None:
    # A field over the reader's limit (an unclosed quote swallowing the file looks the same).
    data = (
        b"sentence,label\nProfit rose 12% to EUR 40 million.,positive\n"
        + b'"'
        + b"x" * (10 * 1024 * 1024 + 10)
        + b'",neutral\nNet loss widened.,negative\n'
    )

    result = labelled_set_import(name="big", data=data, filename="big.csv")

    assert result.stored == 1 and result.labelled_set is not None
    assert [e.line for e in result.errors] == [3]
    assert "longer than 10 MiB" in result.errors[0].reason
    assert list(result.labelled_set.rows.values_list("line", "label")) == [(2, "positive")]


def test_a_training_file_with_a_nul_reports_the_line(analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = b"sentence,label\nProfit rose sharply,positive\nSales \x00 fell,negative\n"

    response = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("set.csv", content), "name": "Mine"},
    )

    assert response.status_code == 201
    assert response.json()["errors"] == [
        {
            "line": 3,
            "error": "the sentence contains a NUL character (at character 7), which cannot be "
            "stored",
        }
    ]
    assert LabelledSet.objects.get().row_count == 1


def test_a_semicolon_training_csv_from_excel_is_read(analyst_client) -> None:  # type: ignore[no-untyped-def]
    content = "sentence;label\nProfit rose, beating forecasts;positive\nSales fell;negative\n"

    response = analyst_client.post(
        "/api/sentiment/training-sets/",
        {"file": SimpleUploadedFile("set.csv", content.encode("cp1252")), "name": "Excel"},
    )

    assert response.status_code == 201, response.json()
    assert response.json()["stored"] == 2 and response.json()["errors"] == []
    rows = LabelledSet.objects.get().rows.order_by("line").values_list("sentence", "label")
    assert list(rows) == [
        ("Profit rose, beating forecasts", "positive"),
        ("Sales fell", "negative"),
    ]
