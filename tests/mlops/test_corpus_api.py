"""Corpora through the API and the Corpora page (ML admins only), and runs that pick a corpus by
id: `<app>-base`'s `corpora`, sentiment's `unlabelled_corpora`, `model_adapt --corpus-id`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.mlops import corpora
from apps.mlops.adaptation_corpus import adaptation_corpus
from apps.mlops.kinds import TrainingContext
from apps.mlops.models import Corpus, ModelVersion, TrainingRun
from apps.sentiment.adaptation import ADAPTED_BASE
from apps.sentiment.distillation import unlabelled_files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def _post(api: Any, content: bytes, filename: str = "news.txt", **data: Any) -> Any:
    data.setdefault("app", "sentiment")
    upload = SimpleUploadedFile(filename, content)
    return api.post("/api/mlops/corpora/", {"file": upload, **data})


def _stored(content: bytes, app: str = "sentiment") -> Corpus:
    upload = SimpleUploadedFile("c.txt", content)
    return corpora.corpus_upload_accept(upload=upload, app=app)


def test_an_upload_answers_the_imported_corpus_and_is_listed(api: APIClient) -> None:
    content = b"Profit rose.\nprofit rose.\nShares fell.\n"
    created = _post(api, content, filename="n.txt", name="News")

    listed = api.get("/api/mlops/corpora/?app=sentiment")
    other = api.get("/api/mlops/corpora/?app=support")
    detail = api.get(created.data["url"])

    assert created.status_code == 201, created.data
    body = created.data
    assert (body["status"], body["lines"], body["duplicates"], body["name"]) == (
        "done",
        2,
        1,
        "News",
    )
    assert len(body["corpus_hash"]) == 64
    assert body["corpus_bytes"] == len(b"Profit rose.\nShares fell.\n")
    assert [c["id"] for c in listed.data] == [body["id"]] and other.data == []
    assert detail.data["corpus_hash"] == body["corpus_hash"]


def test_a_large_upload_answers_202_with_the_queued_corpus(api: APIClient, settings: Any) -> None:
    settings.UPLOAD_INLINE_MAX_BYTES = 10

    response = _post(api, b"One text.\nAnother text.\n")

    assert response.status_code == 202 and response.data["status"] == "queued"


@pytest.mark.parametrize(
    ("content", "name", "data", "message"),
    [
        (b"title\nA\n", "a.csv", {"field": "body"}, "no column 'body'"),
        (b"", "a.txt", {}, "the file is empty"),
        ("Café".encode("cp1252"), "a.txt", {"encoding": "utf-8"}, "not written in utf-8"),
        (b"text\n", "a.txt", {"app": "billing"}, "is not a valid choice"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem_with_nothing_stored(
    api: APIClient, content: bytes, name: str, data: dict[str, Any], message: str
) -> None:
    response = _post(api, content, filename=name, **data)

    assert response.status_code == 400 and message in str(response.data)
    assert not Corpus.objects.exists()


def test_a_file_over_the_size_cap_is_a_413(api: APIClient, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 100

    response = _post(api, b"A long line of text.\n" * 20)

    assert response.status_code == 413 and "UPLOAD_MAX_BYTES" in str(response.data)
    assert not Corpus.objects.exists()


def test_a_corpus_is_deleted_through_the_api(api: APIClient) -> None:
    corpus = _stored(b"Gone soon.\n")

    response = api.delete(f"/api/mlops/corpora/{corpus.pk}/")

    assert response.status_code == 204 and not Path(corpus.corpus_path).exists()
    assert api.get(f"/api/mlops/corpora/{corpus.pk}/").status_code == 404


def test_only_ml_admins_reach_corpora(analyst: User) -> None:
    client = APIClient()
    client.force_authenticate(analyst)

    assert client.get("/api/mlops/corpora/").status_code == 403
    assert _post(client, b"Text.\n").status_code == 403
    assert not Corpus.objects.exists()


def test_the_page_uploads_lists_and_refuses_with_the_reason(ml_admin: User) -> None:
    client = Client()
    client.force_login(ml_admin)
    upload = SimpleUploadedFile("faq.jsonl", b'{"q": "Where is my card?"}\n')
    bad = SimpleUploadedFile("faq.jsonl", b'{"q": "Where is my card?"}\n')

    done = client.post("/mlops/corpora/", {"file": upload, "app": "support", "field": "q"})
    refused = client.post("/mlops/corpora/", {"file": bad, "app": "support", "field": "answer"})
    page = client.get("/mlops/corpora/").content.decode()
    corpus = Corpus.objects.get()
    detail = client.get(f"/mlops/corpora/{corpus.pk}/").content.decode()

    assert done.status_code == 302
    assert refused.status_code == 400 and "no field &#x27;answer&#x27;" in refused.content.decode()
    assert "faq.jsonl" in page and corpus.corpus_hash[:12] in page
    assert f"--corpus-id {corpus.pk}" in detail and "1</b> distinct texts" in detail
    assert client.post(f"/mlops/corpora/{corpus.pk}/delete/").status_code == 302
    assert not Corpus.objects.exists()


def test_an_adaptation_run_reads_its_apps_corpora_and_refuses_another_apps(
    api: APIClient, tmp_path: Path
) -> None:
    mine = _stored(b"Profit rose.\nShares fell.\n")
    theirs = _stored(b"Where is my card?\n", app="support")
    ctx = TrainingContext(run_id=None, params={}, workdir=tmp_path, log=lambda _line: None)

    texts, _ = adaptation_corpus(ADAPTED_BASE, {"corpora": [mine.pk]}, ctx)
    refused = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment-base", "params": {"corpora": [theirs.pk]}},
        format="json",
    )
    path_refused = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment-base", "params": {"corpus": mine.corpus_path}},
        format="json",
    )

    assert texts == ["Profit rose.", "Shares fell."]
    assert refused.status_code == 400 and f"no such id: {theirs.pk}" in str(refused.data)
    assert path_refused.status_code == 400 and "training files folder" in str(path_refused.data)
    assert not TrainingRun.objects.exists()


def test_distillation_reads_sentiment_corpora_by_id(api: APIClient) -> None:
    mine = _stored(b"Profit rose.\n")
    theirs = _stored(b"Where is my card?\n", app="support")

    files = unlabelled_files({"unlabelled_corpora": [mine.pk], "unlabelled": ""})
    refused = api.post(
        "/api/mlops/runs/",
        {"model_name": "sentiment", "params": {"unlabelled_corpora": [theirs.pk]}},
        format="json",
    )

    assert files == [mine.corpus_path]
    assert refused.status_code == 400 and "unlabelled_corpora" in str(refused.data)
    with pytest.raises(ValueError, match=f"no imported sentiment corpus with id {theirs.pk}"):
        unlabelled_files({"unlabelled_corpora": [theirs.pk]})


def test_model_adapt_refuses_an_unknown_corpus_id_and_registers_nothing() -> None:
    with pytest.raises(CommandError, match="no imported support corpus with id 999"):
        call_command("model_adapt", "--app", "support", "--corpus-id", "999", stdout=StringIO())
    assert not ModelVersion.objects.exists()


def test_the_models_page_offers_the_apps_corpora_and_starts_a_run_with_one(
    ml_admin: User,
) -> None:
    mine = _stored(b"Profit rose.\n")
    theirs = _stored(b"Where is my card?\n", app="support")
    client = Client()
    client.force_login(ml_admin)

    page = client.get("/mlops/models/sentiment-base/").content.decode()
    response = client.post(
        "/mlops/models/sentiment-base/runs/", {"p_corpora": [str(mine.pk)], "p_method": "tapt"}
    )

    run = TrainingRun.objects.get()
    assert f"#{mine.pk} c.txt (1 texts)" in page and f"#{theirs.pk} c.txt" not in page
    assert response.status_code == 302
    assert run.params == {"corpora": [mine.pk], "method": "tapt"}
