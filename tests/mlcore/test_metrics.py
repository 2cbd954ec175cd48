import pytest

from mlcore.metrics import classification_report, ranking_metrics, report_text


def test_classification_report_counts():
    truth = ["pos", "pos", "neg", "neg", "neu"]
    pred = ["pos", "neg", "neg", "neg", "pos"]

    report = classification_report(truth, pred, ["neg", "neu", "pos"])

    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["per_class"]["neg"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    assert report["per_class"]["neu"]["f1"] == 0.0
    assert report["confusion_matrix"] == [[2, 0, 0], [0, 0, 1], [1, 0, 1]]
    assert report["macro"]["f1"] == pytest.approx((0.8 + 0.0 + 0.5) / 3)
    assert "macro avg" in report_text(report)


def test_ranking_metrics_perfect_and_empty():
    perfect = ranking_metrics({1: [10, 11]}, {1: {10, 11}}, k=10, n_items=4)
    nothing = ranking_metrics({1: [12, 13]}, {1: {10}}, k=10)

    assert perfect["ndcg@10"] == pytest.approx(1.0)
    assert perfect["recall@10"] == 1.0 and perfect["map@10"] == pytest.approx(1.0)
    assert perfect["coverage"] == 0.5
    assert nothing["hr@10"] == 0.0 and nothing["ndcg@10"] == 0.0
