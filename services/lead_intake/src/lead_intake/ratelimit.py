"""A per-client token bucket for the public endpoint (behind the proxy the client is X-Forwarded-For).

The buckets live in each uvicorn worker process. With ``WORKERS=n`` every worker gets ``1/n`` of the configured rate
and burst (``RateLimiter.per_worker``), so the configured figures stay a ceiling for a client however its requests
are spread over the workers; a client whose requests all reach one worker is held to ``1/n`` of them.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import HTTPException, Request


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``burst`` requests at once, refilled at ``per_minute``; the least recently seen clients are forgotten first."""

    def __init__(self, per_minute: float, burst: int, max_clients: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @classmethod
    def per_worker(cls, per_minute: float, burst: int, max_clients: int, workers: int) -> RateLimiter:
        """One worker's share of a limit for the whole service: ``per_minute/workers``, ``burst//workers`` (≥ 1)."""
        return cls(per_minute / workers, max(1, burst // workers), max_clients)

    def retry_after(self, client: str, now: float | None = None) -> float:
        """Take a token for ``client``; 0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.pop(client, None) or _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[client] = bucket
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    async def __call__(self, request: Request) -> None:
        self.take(request.client.host if request.client else "unknown")

    def take(self, client: str) -> None:
        """Take a token for ``client`` or raise the 429 to answer (with Retry-After in whole seconds)."""
        wait = self.retry_after(client)
        if wait > 0:
            raise HTTPException(429, "too many requests; retry later", headers={"Retry-After": str(math.ceil(wait))})
