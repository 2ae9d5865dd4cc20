"""Relay of the website's stored intake submissions to the lead-intake API, exactly once per submission.

The WordPress must-use plugin stores each submission (status `pending`) with the JSON body of `POST /leads` fixed at
submission time. Each run of this relay sends the due ones with `Idempotency-Key: <reference>`, so a resend after a
crash is answered as a replay instead of creating a second lead; transient failures are retried later with backoff; a
request the API refuses for good is kept as `rejected` for staff. Nothing is ever deleted.

Runs on the web host with Debian's python3 and python3-pymysql only (no virtualenv).
"""

from intake_relay.config import RelayConfig, load_config
from intake_relay.policy import Outcome, classify
from intake_relay.relay import Summary, run_once

__all__ = ["Outcome", "RelayConfig", "Summary", "classify", "load_config", "run_once"]
