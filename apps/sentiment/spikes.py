"""Spike detection against an EWMA baseline; plain functions over window series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Floors on the baseline's spread, so a flat history does not turn a tiny wiggle into a huge z.
SHARE_STD_FLOOR = 0.05
SCORE_STD_FLOOR = 0.08
# The longest cooldown a rule may have (a year). Far larger values cannot even be subtracted
# from today's date, and a rule whose check raises would hold up the rules checked after it.
MAX_COOLDOWN_HOURS = 24 * 365


@dataclass(frozen=True)
class SpikeCheck:
    fired: bool
    value: float
    baseline: float
    std: float
    z: float | None
    volume: int
    reason: str


def ewma_baseline(values: Sequence[float], *, alpha: float = 0.3) -> tuple[float, float]:
    """Exponentially weighted mean and variance of `values` (oldest first)."""
    if not values:
        return 0.0, 0.0
    mean, var = float(values[0]), 0.0
    for x in values[1:]:
        diff = float(x) - mean
        incr = alpha * diff
        mean += incr
        var = (1 - alpha) * (var + diff * incr)
    return mean, var


def spike_check(
    *,
    metric: str,
    values: Sequence[float],
    volumes: Sequence[int],
    sensitivity: float = 3.0,
    min_volume: int = 5,
    threshold: float | None = None,
    alpha: float = 0.3,
    min_history: int = 3,
) -> SpikeCheck:
    """Does the last window spike against the earlier ones?

    `values[i]` is the metric of window i (oldest first; the last is the current window) and
    `volumes[i]` its number of texts. Share and score metrics ignore baseline windows with no
    texts. With `threshold` set the rule fires when the current value passes it instead.
    A window with no texts never fires (whatever `min_volume`), and spike mode needs
    `min_history` earlier windows with texts, for every metric.
    """
    if not values:
        return SpikeCheck(False, 0.0, 0.0, 0.0, None, 0, "no data")
    value, volume = float(values[-1]), int(volumes[-1])
    history = [float(v) for v, n in zip(values[:-1], volumes[:-1]) if metric == "volume" or n > 0]
    baseline, var = ewma_baseline(history, alpha=alpha)
    if metric == "volume":
        # Counts are roughly Poisson: the spread is at least the square root of the mean.
        std = max(math.sqrt(var), math.sqrt(max(baseline, 1.0)))
    elif metric == "mean_score_drop":
        std = max(math.sqrt(var), SCORE_STD_FLOOR)
    else:
        std = max(math.sqrt(var), SHARE_STD_FLOOR)
    direction = -1.0 if metric == "mean_score_drop" else 1.0
    z = direction * (value - baseline) / std if history else None
    if volume == 0:
        # The share or mean of no texts is undefined, not 0: it must not read as a move.
        return SpikeCheck(False, value, baseline, std, z, volume, "no texts in the window")
    if volume < min_volume:
        return SpikeCheck(
            False,
            value,
            baseline,
            std,
            z,
            volume,
            f"volume {volume} is below the minimum {min_volume}",
        )
    if threshold is not None:
        crossed = value <= threshold if metric == "mean_score_drop" else value >= threshold
        reason = (
            f"{_fmt(metric, value)} {'crossed' if crossed else 'is within'} the threshold "
            f"{_fmt(metric, threshold)}"
        )
        return SpikeCheck(crossed, value, baseline, std, z, volume, reason)
    # Volume baselines count empty windows as zeros, but a subject with (almost) no texts
    # before, e.g. a company just added to the watchlist, has no baseline yet.
    with_texts = sum(1 for n in volumes[:-1] if n > 0)
    if with_texts < min_history or z is None:
        return SpikeCheck(
            False,
            value,
            baseline,
            std,
            z,
            volume,
            f"only {with_texts} earlier windows with texts; need {min_history} for a baseline",
        )
    fired = z >= sensitivity
    reason = (
        f"{_fmt(metric, value)} vs baseline {_fmt(metric, baseline)} "
        f"(z = {z:+.1f}, sensitivity {sensitivity:g}, {volume} texts)"
    )
    return SpikeCheck(fired, value, baseline, std, z, volume, reason)


def threshold_problem(metric: str, threshold: float) -> str:
    """Why `threshold` can never be a sensible value of `metric` ("" when it can): a share
    entered as a percentage (40 for 40%) would otherwise never fire, silently."""
    if metric == "negative_share" and not 0 < threshold <= 1:
        return "a share above 0 and at most 1 (0.4 = 40% negative)"
    if metric == "mean_score_drop" and not -1 <= threshold <= 1:
        return "a mean sentiment between -1 and +1 (fires at or below it)"
    if metric == "volume" and threshold < 1:
        return "a number of texts, at least 1"
    return ""


def _fmt(metric: str, value: float) -> str:
    if metric == "negative_share":
        return f"{value:.0%} negative"
    if metric == "volume":
        return f"{value:.0f} texts"
    return f"mean sentiment {value:+.2f}"
