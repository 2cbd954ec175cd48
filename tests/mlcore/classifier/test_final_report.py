"""The last line of a training log: what the registered held-out score measures."""

from mlcore.classifier import final_report_line


def test_the_final_log_line_says_the_neighbour_vote_lifted_the_registered_score():
    # The epoch lines said 0.949 (the head alone) and the version was registered at 1.0.
    metrics = {
        "macro": {"f1": 1.0},
        "accuracy": 1.0,
        "val_size": 66,
        "neighbours": {"weight": 0.75, "val_macro_f1_by_weight": {"0.0": 0.949, "0.75": 1.0}},
    }

    line = final_report_line(metrics)

    assert line.startswith("held-out macro-F1 1.000, accuracy 1.000 on 66 texts")
    assert "head 0.949 plus the neighbour vote at weight 0.75" in line


def test_the_final_log_line_of_a_plain_head_has_no_vote_note():
    line = final_report_line({"macro": {"f1": 0.91}, "accuracy": 0.93, "val_size": 200})

    assert line == "held-out macro-F1 0.910, accuracy 0.930 on 200 texts"
