"""Backoff with jitter and the global reconnect budget (token bucket)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from rtcc.ingest.supervisor import Backoff, ReconnectBudget, RetryPolicy


def test_backoff_grows_caps_jitters_and_resets() -> None:
    policy = RetryPolicy(initial=1.0, factor=2.0, cap=30.0, jitter=0.5)
    backoff = Backoff(policy, random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    bases = [1, 2, 4, 8, 16, 30, 30, 30]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= d <= base
    assert len({round(d, 6) for d in delays[5:]}) == 3  # jittered, not one fixed value
    backoff.reset()
    assert 0.5 <= backoff.next() <= 1.0
    no_jitter = Backoff(RetryPolicy(initial=0.5, factor=3.0, cap=10.0, jitter=0.0))
    assert [no_jitter.next() for _ in range(4)] == [0.5, 1.5, 4.5, 10.0]


def test_jitter_spreads_cameras_that_failed_together() -> None:
    policy = RetryPolicy(initial=4.0, jitter=0.5)
    firsts = [Backoff(policy, random.Random(seed)).next() for seed in range(200)]
    assert min(firsts) >= 2.0 and max(firsts) <= 4.0
    # Spread over the whole [2, 4] s interval: every quarter gets some cameras.
    quarters = {int((d - 2.0) / 0.5) for d in firsts}
    assert quarters >= {0, 1, 2, 3}


def test_budget_try_take_refills_at_the_rate() -> None:
    now = [100.0]
    budget = ReconnectBudget(rate=10.0, burst=3.0, clock=lambda: now[0])
    assert [budget.try_take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1  # one token back
    assert budget.try_take() and not budget.try_take()
    now[0] += 10.0  # refills to the burst, not beyond
    assert sum(budget.try_take() for _ in range(10)) == 3
    with pytest.raises(ValueError):
        ReconnectBudget(rate=0, burst=1)


async def test_budget_take_paces_waiters_first_come_first_served() -> None:
    budget = ReconnectBudget(rate=100.0, burst=5.0)
    order: list[int] = []
    start = time.monotonic()

    async def attempt(i: int) -> None:
        await budget.take()
        order.append(i)

    await asyncio.gather(*(attempt(i) for i in range(35)))
    elapsed = time.monotonic() - start
    # 5 at once, the other 30 at 100/s: at least 0.3 s, and in arrival order.
    assert elapsed >= 0.29
    assert elapsed < 1.5
    assert order == list(range(35))
