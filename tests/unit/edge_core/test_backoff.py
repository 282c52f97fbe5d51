"""Reconnect backoff: exponential ceiling, full jitter, no lock-step between boxes."""

from __future__ import annotations

import random
import statistics

import pytest

from edge_core.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    assert [backoff.ceiling(n) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10_000) == 60.0  # no overflow after a week offline


def test_full_jitter_spreads_over_the_whole_range() -> None:
    delays = []
    for seed in range(2000):  # 2000 boxes, each on its 10th attempt after a broker restart
        backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(seed))
        backoff.attempt = 10
        delays.append(backoff.next_delay())
    assert all(0 <= d <= 60 for d in delays)
    assert min(delays) < 1.0 and max(delays) > 59.0
    assert statistics.mean(delays) == pytest.approx(30, abs=2)  # uniform(0, 60): mean 30, sd 17.3
    assert statistics.stdev(delays) == pytest.approx(60 / 12 ** 0.5, abs=1.5)
    buckets = [0] * 6  # roughly as many boxes in every 10-second slice
    for d in delays:
        buckets[min(int(d // 10), 5)] += 1
    assert all(250 < b < 420 for b in buckets), buckets


def test_each_attempt_stays_under_its_ceiling_and_reset_restarts() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(1))
    for attempt in range(12):
        assert 0 <= backoff.next_delay() <= min(8.0, 0.5 * 2 ** attempt)
    assert backoff.attempt == 12
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next_delay() <= 0.5


def test_two_boxes_do_not_move_in_lock_step() -> None:
    a, b = Backoff(rng=random.Random(1)), Backoff(rng=random.Random(2))
    pairs = [(a.next_delay(), b.next_delay()) for _ in range(10)]
    assert sum(abs(x - y) > 0.05 for x, y in pairs) >= 8


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(base=10, cap=1)
