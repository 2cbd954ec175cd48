"""Which serving form a device gets, and which a tolerance refuses."""

import pytest

from mlcore.serving.choice import (
    BATCH_DEPENDENT_FORMS,
    FP16,
    FP32,
    ONNX_FP32,
    ONNX_INT8,
    TORCH_INT8,
    FormMeasure,
    form_auto,
    form_check,
    form_fastest,
    form_refusal,
    forms_record_write,
    single_rate,
)

MEASURES = [
    FormMeasure(FP32, "cpu", 0.870, 200.0),
    FormMeasure(TORCH_INT8, "cpu", 0.866, 400.0),
    FormMeasure(ONNX_FP32, "cpu", 0.870, 350.0),
    FormMeasure(ONNX_INT8, "cpu", 0.850, 900.0),
    FormMeasure(FP32, "cuda", 0.870, 5000.0),
    FormMeasure(FP16, "cuda", 0.869, 12000.0),
]


def test_the_fastest_form_within_tolerance_serves_on_the_cpu():
    # onnx-int8 is fastest but lost 2 points: the next fastest within one point wins.
    assert form_fastest(MEASURES, device="cpu", baseline=0.870, tolerance=0.01) == TORCH_INT8


def test_a_wider_tolerance_admits_the_lossier_fastest_form():
    assert form_fastest(MEASURES, device="cpu", baseline=0.870, tolerance=0.03) == ONNX_INT8


def test_forms_left_out_are_never_chosen_however_fast():
    # The embedder leaves out forms whose vectors move with their batch companions.
    wide = 0.05
    assert form_fastest(MEASURES, device="cpu", baseline=0.870, tolerance=wide) == ONNX_INT8
    chosen = form_fastest(
        MEASURES, device="cpu", baseline=0.870, tolerance=wide, exclude=BATCH_DEPENDENT_FORMS
    )
    assert chosen == ONNX_FP32


def test_each_device_chooses_among_its_own_measures():
    assert form_fastest(MEASURES, device="cuda:0", baseline=0.870) == FP16


def test_fp32_serves_when_nothing_was_measured_or_everything_lost():
    lossy = [FormMeasure(ONNX_INT8, "cpu", 0.5, 900.0)]

    assert form_fastest([], device="cpu", baseline=0.9) == FP32
    assert form_fastest(lossy, device="cpu", baseline=0.9) == FP32


def test_a_form_measured_on_a_device_it_cannot_serve_on_is_never_chosen():
    wrong = [FormMeasure(FP16, "cpu", 0.9, 10_000.0), FormMeasure(FP32, "cpu", 0.9, 10.0)]

    assert form_fastest(wrong, device="cpu", baseline=0.9) == FP32


def test_refusal_names_the_loss_and_the_tolerance():
    lost = FormMeasure(ONNX_INT8, "cpu", 0.594, 900.0)

    message = form_refusal(lost, baseline=0.869, tolerance=0.01)

    assert message is not None and "27.5 points" in message and "tolerance of 1" in message
    assert form_refusal(MEASURES[1], baseline=0.870, tolerance=0.01) is None
    assert "not been measured" in (form_refusal(None, baseline=0.87) or "")


def test_an_unknown_form_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown serving form 'int4'"):
        form_check("int4")
    with pytest.raises(ValueError, match="unknown serving form"):
        FormMeasure.from_dict({"form": "int4", "score": 1, "texts_per_s": 1})


# Measured on an AVX2 CPU (bench/RESULTS.md, 2026-12-06): torch int8 leads in batches, ONNX int8
# answers a text alone 1.7x faster.
QUICK_IN_BATCHES = FormMeasure(TORCH_INT8, "cpu", 0.870, 173.0, single_per_s=75.0)
QUICK_ALONE = FormMeasure(ONNX_INT8, "cpu", 0.870, 160.0, single_per_s=130.0)


def test_the_serving_rate_is_the_harmonic_mean_of_batch_and_alone():
    assert QUICK_IN_BATCHES.serving_per_s == pytest.approx(2 / (1 / 173 + 1 / 75))
    assert QUICK_ALONE.serving_per_s == pytest.approx(2 / (1 / 160 + 1 / 130))
    # Records from before the one-at-a-time timing keep their batch rate.
    assert FormMeasure(FP32, "cpu", 0.87, 200.0).serving_per_s == 200.0


def test_serving_prefers_the_form_quick_alone_and_bulk_work_the_batch_rate():
    measures = [FormMeasure(FP32, "cpu", 0.870, 130.0, single_per_s=42.0)]
    measures += [QUICK_IN_BATCHES, QUICK_ALONE]

    assert form_fastest(measures, device="cpu", baseline=0.870) == ONNX_INT8
    assert form_fastest(measures, device="cpu", baseline=0.870, rate="batch") == TORCH_INT8
    assert form_fastest(measures, device="cpu", baseline=0.870, rate="single") == ONNX_INT8


def test_the_single_rate_of_a_record_without_one_is_its_batch_rate():
    old = FormMeasure(ONNX_FP32, "cpu", 0.870, 150.0)  # timed before single texts were

    assert form_fastest([old, QUICK_ALONE], device="cpu", baseline=0.870, rate="single") == (
        ONNX_FP32
    )
    with pytest.raises(ValueError, match="rate must be one of"):
        form_fastest([old], device="cpu", baseline=0.870, rate="fastest")


def test_the_one_at_a_time_rate_asks_each_text_in_its_own_call():
    calls: list[list[str]] = []

    rate = single_rate(calls.append, [f"text {i}" for i in range(40)], rounds=2)

    assert rate > 0
    assert len(calls) == 2 * 32 and all(len(call) == 1 for call in calls)
    assert calls[0] == ["text 0"] and calls[31] == ["text 31"]
    assert single_rate(calls.append, []) == 0.0


def test_the_forms_record_round_trips_and_drives_auto(tmp_path):
    forms_record_write(tmp_path, MEASURES, baseline=0.870, tolerance=0.01)

    assert form_auto(tmp_path, "cpu") == TORCH_INT8
    assert form_auto(tmp_path, "cuda") == FP16
    assert form_auto(tmp_path / "nothing-measured", "cpu") == FP32
    forms_record_write(tmp_path, [QUICK_IN_BATCHES, QUICK_ALONE], baseline=0.87, tolerance=0.01)
    assert form_auto(tmp_path, "cpu") == ONNX_INT8
