"""Requests-per-minute and tokens-per-minute limits as async token buckets.

A bucket refills continuously at rate/60 per second and holds at most `burst_s` seconds' worth,
so a run starts at most a short burst and then keeps an even pace (providers count per minute
but often also throttle bursts). A reservation larger than the bucket is clamped to its capacity,
so one big request can always go through. After a call, `settle` charges the difference between
the estimate and the tokens really used (the bucket may go into debt).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(self, per_minute: float, burst_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.unlimited = per_minute <= 0
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.lock = asyncio.Lock()
        self.waited_s = 0.0

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> float:
        """Wait until `amount` (clamped to the capacity) is available and take it; returns what was taken."""
        if self.unlimited:
            return amount
        amount = min(amount, self.capacity)
        async with self.lock:  # FIFO: one waiter at a time, so nobody starves
            self._refill()
            while self.level < amount:
                wait = (amount - self.level) / self.rate
                self.waited_s += wait
                await self.sleep(wait)
                self._refill()
            self.level -= amount
        return amount

    def settle(self, reserved: float, actual: float) -> None:
        """Correct a reservation made from an estimate once the real usage is known."""
        if self.unlimited:
            return
        self._refill()
        self.level = min(self.capacity, self.level + reserved - actual)
