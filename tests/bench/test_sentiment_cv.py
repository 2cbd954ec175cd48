from collections import Counter

from bench.sentiment_cv import (
    BASE,
    RECIPES,
    _cache_add,
    _cache_key,
    _cache_read,
    _summary,
    stratified_folds,
)


def test_folds_are_disjoint_cover_every_row_and_keep_the_label_mix():
    labels = ["neutral"] * 60 + ["positive"] * 27 + ["negative"] * 13

    folds = stratified_folds(labels, 3)

    flat = [i for fold in folds for i in fold]
    assert sorted(flat) == list(range(100))  # every row once
    for fold in folds:
        counts = Counter(labels[i] for i in fold)
        assert abs(counts["neutral"] - 20) <= 1
        assert abs(counts["positive"] - 9) <= 1
        assert abs(counts["negative"] - 13 / 3) <= 1
    assert stratified_folds(labels, 3) == folds  # seeded


def _run(recipe, fold, acc, f1, seed=42):
    return {
        "recipe": recipe,
        "fold": fold,
        "seed": seed,
        "accuracy": acc,
        "macro_f1": f1,
        "seconds": 1.0,
    }


def test_summary_pairs_each_run_with_the_baseline_on_the_same_fold_and_seed():
    runs = [
        _run("baseline", 0, 0.80, 0.70),
        _run("baseline", 1, 0.90, 0.80),
        _run("epochs3", 0, 0.82, 0.71),
        _run("epochs3", 1, 0.93, 0.83),
        _run("epochs3", 2, 0.50, 0.50),  # no baseline run on fold 2: not paired
    ]

    summary = _summary(runs, ["baseline", "epochs3", "fgm1"])

    assert "fgm1" not in summary  # no runs, no row
    assert summary["baseline"]["runs"] == 2 and "accuracy_vs_baseline" not in summary["baseline"]
    row = summary["epochs3"]
    assert row["runs"] == 3
    assert row["accuracy_vs_baseline"] == 0.025  # mean of +0.02 and +0.03
    assert row["accuracy_vs_baseline_se"] == 0.005
    assert row["macro_f1_vs_baseline"] == 0.02


def test_cache_reuses_runs_by_settings_not_by_recipe_name(tmp_path):
    cache = tmp_path / "runs.jsonl"
    job = {"overrides": RECIPES["epochs3"], "fold_no": 1, "seed": 43}
    _cache_add(cache, job, _run("epochs3", 1, 0.8, 0.7, seed=43), 3)

    found = _cache_read(cache)

    assert found[_cache_key(job, 3)]["accuracy"] == 0.8
    same_settings = {
        "overrides": {"epochs": 3, "learning_rate": BASE["learning_rate"]},
        "fold_no": 1,
        "seed": 43,
    }
    assert _cache_key(same_settings, 3) in found
    assert _cache_key({**job, "seed": 42}, 3) not in found
    assert _cache_key(job, 5) not in found  # other folds, other rows
    assert _cache_read(tmp_path / "absent.jsonl") == {}
