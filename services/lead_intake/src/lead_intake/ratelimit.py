"""A per-client token bucket for the public endpoint (per process; behind the proxy the client is X-Forwarded-For)."""

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
        client = request.client.host if request.client else "unknown"
        wait = self.retry_after(client)
        if wait > 0:
            raise HTTPException(429, "too many requests; retry later", headers={"Retry-After": str(math.ceil(wait))})
