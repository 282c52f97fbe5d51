"""Exponential backoff with full jitter, so hundreds of boxes never reconnect in lock-step."""

from __future__ import annotations

import random


class Backoff:
    """delay = uniform(0, min(cap, base * 2**attempt)); `reset()` after a success."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.SystemRandom()

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the delay for an attempt number."""
        return min(self.cap, self.base * 2 ** min(attempt, 62))

    def next_delay(self) -> float:
        """The delay before the next attempt (and count this attempt)."""
        delay = self._rng.uniform(0, self.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from the smallest ceiling."""
        self.attempt = 0
