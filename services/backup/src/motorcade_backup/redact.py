"""A process-wide set of secret values that must never reach logs or output."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MIN_SECRET_LENGTH = 4


def register_secret(value: str) -> None:
    """Remember a secret value so that :func:`redact` masks it everywhere."""
    if len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text
