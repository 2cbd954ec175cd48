"""The MovieLens evaluation on a tiny synthetic dataset in the same file format."""

from __future__ import annotations

import json
import random
from io import StringIO

import pytest
from django.core.management import call_command

from apps.recommender.movielens import dataset_load, split
from mlcore.recommend import RECENCY_GRID

GENRES = ["Comedy", "Horror", "Drama", "Western"]


@pytest.fixture
def tiny_movielens(tmp_path):
    rng = random.Random(1)
    with open(tmp_path / "ml-100k.item", "w") as fh:
        fh.write("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n")
        for item in range(1, 41):
            fh.write(f"{item}\tFilm {item}\t199{item % 10}\t{GENRES[item % 4]}\n")
    with open(tmp_path / "ml-100k.inter", "w") as fh:
        fh.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for user in range(1, 61):
            taste = user % 4  # each user watches films of one genre, plus a little noise
            liked = [i for i in range(1, 41) if i % 4 == taste]
            for n, item in enumerate(rng.sample(liked, 8) + rng.sample(range(1, 41), 2)):
                fh.write(f"{user}\t{item}\t4\t{880000000 + user * 100 + n}\n")
    return tmp_path


def test_dataset_reader_and_splits(tiny_movielens):
    rows, texts = dataset_load(tiny_movielens)
    train, test = split(rows, "random", seed=3)
    t_train, t_test = split(rows, "temporal")

    assert texts[5] == "Film 5 (1995). Genres: Horror."
    assert len(train) + len(test) == len(rows)
    assert {sum(1 for r in test if r.user == u) for u in range(1, 61)} == {2}  # 10 -> 8 + 2
    newest_train = {}
    for r in t_train:
        newest_train[r.user] = max(newest_train.get(r.user, 0), r.ts)
    assert all(r.ts > newest_train[r.user] for r in t_test)
    assert split(rows, "random", seed=3) == (train, test)


def test_evaluate_command_beats_most_popular_and_ends_with_json(tiny_movielens):
    out = StringIO()

    call_command(
        "recommender_evaluate",
        "--movielens",
        str(tiny_movielens),
        "--split",
        "temporal",
        stdout=out,
    )

    lines = out.getvalue().strip().splitlines()
    summary = json.loads(lines[-1])
    assert "MostPopular" in out.getvalue() and "ndcg@10" in out.getvalue()
    assert set(summary["ours"]) == {
        "ndcg@10",
        "precision@10",
        "recall@10",
        "map@10",
        "hr@10",
        "coverage",
    }
    assert all(0 <= v <= 1 for v in summary["ours"].values())
    assert summary["ours"]["ndcg@10"] > summary["most_popular"]["ndcg@10"]
    assert summary["split"] == "temporal"
    assert summary["recency"] in RECENCY_GRID  # chosen on validation, printed beside l2
    assert "EASE, no recency weighting" in out.getvalue()


def test_evaluate_command_rejects_a_folder_without_data(tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="inter"):
        call_command("recommender_evaluate", "--movielens", str(tmp_path))
