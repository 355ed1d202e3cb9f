"""Latency distributions: an HDR histogram (the PyPI package ``hdrhistogram``) when it is installed, else exact
percentiles over the stored samples. Values are recorded in milliseconds (floats); the histogram keeps
microseconds with 3 significant digits (1 us .. 1 h)."""

from __future__ import annotations

import math

try:  # Apache-2.0, pinned in requirements-dev.txt
    from hdrh.histogram import HdrHistogram
except ImportError:  # pragma: no cover - exercised by the unit test through use_hdr=False
    HdrHistogram = None

PERCENTILES = (50, 95, 99)


def exact_percentile(sorted_values: list[float], percentile: float) -> float:
    """The nearest-rank percentile (the smallest value with at least ``percentile`` % of the values at or
    below it), the definition HDR histograms use."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(percentile / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Distribution:
    """Record latencies (ms); ``summary()`` -> ``{count, p50, p95, p99, max, mean}`` in ms (None when empty)."""

    LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3

    def __init__(self, use_hdr: bool | None = None):
        self.use_hdr = HdrHistogram is not None if use_hdr is None else (use_hdr and HdrHistogram is not None)
        self._hist = HdrHistogram(self.LOWEST_US, self.HIGHEST_US, self.DIGITS) if self.use_hdr else None
        self._values: list[float] = []
        self.count = 0
        self._sum = 0.0
        self._max = 0.0

    def record(self, ms: float) -> None:
        ms = max(0.0, float(ms))
        self.count += 1
        self._sum += ms
        self._max = max(self._max, ms)
        if self._hist is not None:
            self._hist.record_value(min(self.HIGHEST_US, max(self.LOWEST_US, round(ms * 1000))))
        else:
            self._values.append(ms)

    def percentile(self, percentile: float) -> float | None:
        if not self.count:
            return None
        if self._hist is not None:
            return self._hist.get_value_at_percentile(percentile) / 1000
        return exact_percentile(sorted(self._values), percentile)

    def summary(self) -> dict:
        out = {"count": self.count}
        if not self.count:
            return out | {f"p{p}": None for p in PERCENTILES} | {"max": None, "mean": None}
        if self._hist is not None:
            values = {f"p{p}": self._hist.get_value_at_percentile(p) / 1000 for p in PERCENTILES}
        else:
            ordered = sorted(self._values)
            values = {f"p{p}": exact_percentile(ordered, p) for p in PERCENTILES}
        return out | {k: round(v, 3) for k, v in values.items()} | {
            "max": round(self._max, 3), "mean": round(self._sum / self.count, 3),
        }
