"""The one call the relay makes to the lead-intake API: POST {base}/leads with an Idempotency-Key (stdlib only)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """What came back: the HTTP status (None when nothing came back), the lead's id, Retry-After, a short reason."""

    status: int | None
    lead_id: str | None = None
    retry_after: str | None = None
    reason: str = ""


def post_lead(base_url: str, body: str, key: str, timeout: float, ca_file: str = "") -> Answer:
    """Send one stored submission's body as a new lead; never raises for network or HTTP failures."""
    url = f"{base_url.rstrip('/')}/leads"
    if not url.startswith(("http://", "https://")):
        return Answer(None, reason=f"{base_url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": key,
            "User-Agent": "motorcade-intake-relay",
        },
    )
    try:
        # Inside the try: a CA file that is not there yet (the proxy not deployed) is a reason to wait, not a crash.
        context = ssl.create_default_context(cafile=ca_file or None)
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            status, payload = response.status, response.read(65536)
            retry_after = response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        status, payload, retry_after = error.code, error.read(65536), error.headers.get("Retry-After")
    except (OSError, ValueError) as error:  # refused, reset, DNS, TLS, timeout
        return Answer(None, reason=f"no answer: {type(error).__name__}: {error}"[:500])
    lead_id = None
    reason = ""
    try:
        decoded = json.loads(payload or b"null")
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and status in (200, 201) and decoded.get("id") is not None:
        lead_id = str(decoded["id"])
    elif status not in (200, 201):
        reason = f"HTTP {status}: {payload[:400].decode('utf-8', 'replace')}"
    return Answer(status, lead_id, retry_after, reason[:500])
