"""Spike detection on synthetic series: fires on a spike, quiet on noise, low volume, empty windows
and a history without texts."""

from __future__ import annotations

import random

from apps.sentiment.spikes import ewma_baseline, spike_check


def noisy_shares(n: int, seed: int, level: float = 0.15, spread: float = 0.04) -> list[float]:
    rng = random.Random(seed)
    return [min(1.0, max(0.0, rng.gauss(level, spread))) for _ in range(n)]


def test_fires_on_a_negative_share_spike_and_explains_why() -> None:
    values = [*noisy_shares(20, seed=1), 0.7]
    volumes = [20] * 21

    check = spike_check(
        metric="negative_share", values=values, volumes=volumes, sensitivity=3.0, min_volume=5
    )

    assert check.fired
    assert check.z is not None and check.z > 3
    assert 0.1 < check.baseline < 0.2
    assert "70% negative" in check.reason


def test_stays_quiet_on_noise() -> None:
    fired = 0
    for seed in range(50):
        values = noisy_shares(21, seed=seed)
        check = spike_check(
            metric="negative_share", values=values, volumes=[20] * 21, sensitivity=3.0, min_volume=5
        )
        fired += check.fired
    assert fired <= 1  # a 3-sigma rule may rarely fire on pure noise, never often


def test_stays_quiet_when_volume_is_below_the_minimum() -> None:
    values = [*noisy_shares(20, seed=3), 1.0]
    volumes = [20] * 20 + [2]

    check = spike_check(
        metric="negative_share", values=values, volumes=volumes, sensitivity=3.0, min_volume=5
    )

    assert not check.fired
    assert "below the minimum" in check.reason


def test_volume_spike_uses_poisson_floor() -> None:
    rng = random.Random(5)
    counts = [rng.randint(8, 12) for _ in range(20)]

    quiet = spike_check(
        metric="volume", values=[*counts, 14], volumes=[*counts, 14], sensitivity=3.0, min_volume=5
    )
    loud = spike_check(
        metric="volume", values=[*counts, 45], volumes=[*counts, 45], sensitivity=3.0, min_volume=5
    )

    assert not quiet.fired
    assert loud.fired


def test_needs_history_and_supports_thresholds() -> None:
    short = spike_check(metric="negative_share", values=[0.1, 0.9], volumes=[10, 10])
    crossed = spike_check(
        metric="negative_share", values=[0.1, 0.5], volumes=[10, 10], threshold=0.4
    )

    assert not short.fired and "earlier windows" in short.reason
    assert crossed.fired


def test_mean_score_drop_fires_on_a_fall_not_a_rise() -> None:
    base = [0.3 + 0.02 * (i % 3) for i in range(20)]

    drop = spike_check(metric="mean_score_drop", values=[*base, -0.4], volumes=[10] * 21)
    rise = spike_check(metric="mean_score_drop", values=[*base, 0.9], volumes=[10] * 21)

    assert drop.fired and not rise.fired


def test_ewma_baseline_follows_the_series() -> None:
    mean, var = ewma_baseline([1.0] * 10 + [2.0] * 30)
    assert abs(mean - 2.0) < 0.01
    assert var < 0.01


def test_a_window_without_texts_never_fires_even_with_min_volume_zero() -> None:
    # The mean sentiment of no texts is not 0.0; a fall "to 0.0" from +0.3 is no news at all.
    spike_mode = spike_check(
        metric="mean_score_drop",
        values=[0.3, 0.32, 0.28, 0.3, 0.0],
        volumes=[10, 10, 10, 10, 0],
        min_volume=0,
    )
    threshold_mode = spike_check(
        metric="mean_score_drop",
        values=[0.3, 0.3, 0.3, 0.0],
        volumes=[10, 10, 10, 0],
        min_volume=0,
        threshold=0.1,
    )
    share_threshold = spike_check(
        metric="negative_share", values=[0.1, 0.0], volumes=[10, 0], min_volume=0, threshold=0.0
    )

    assert not spike_mode.fired and not threshold_mode.fired and not share_threshold.fired
    assert "no texts" in spike_mode.reason


def test_a_volume_spike_needs_earlier_windows_with_texts() -> None:
    # A company just added to the watchlist has no history: its first mentions are no spike.
    brand_new = spike_check(metric="volume", values=[0.0] * 27 + [20.0], volumes=[0] * 27 + [20])
    with_history = spike_check(
        metric="volume",
        values=[0.0] * 24 + [2.0, 3.0, 2.0, 20.0],
        volumes=[0] * 24 + [2, 3, 2, 20],
    )

    assert not brand_new.fired
    assert "earlier windows" in brand_new.reason
    assert with_history.fired and with_history.z is not None and with_history.z > 3
