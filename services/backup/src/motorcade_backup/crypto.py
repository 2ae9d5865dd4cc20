"""Client-side encryption with ``age`` (Debian package ``age``).

Why age: its format (X25519 recipients, ChaCha20-Poly1305 in 64 KiB STREAM chunks) is published and reviewed,
authenticates every chunk and detects truncation, so a tampered or cut object fails to decrypt instead of
restoring garbage. It streams through a pipe at well over the speed of ``pg_dump``. We write no cryptography
of our own. The backup side only needs the public recipient, derived from the identity file kept in Vault.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO

from motorcade_backup.errors import ConfigError
from motorcade_backup.redact import redact

AGE = "age"
AGE_KEYGEN = "age-keygen"


def recipient_for(identity_file: Path) -> str:
    """The public age recipient (``age1...``) of the identity in ``identity_file``."""
    try:
        result = subprocess.run(
            [AGE_KEYGEN, "-y", str(identity_file)], capture_output=True, text=True, check=False, timeout=30
        )
    except FileNotFoundError:
        raise ConfigError("age-keygen is not installed (apt-get install age)") from None
    if result.returncode != 0 or not result.stdout.startswith("age1"):
        detail = redact(result.stderr.strip().splitlines()[-1]) if result.stderr.strip() else "no recipient"
        raise ConfigError(f"MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE: {identity_file} is not an age identity ({detail})")
    return result.stdout.strip().splitlines()[0]


def age_version() -> str:
    """The installed age version, recorded in manifests."""
    result = subprocess.run([AGE, "--version"], capture_output=True, text=True, check=False, timeout=30)
    return result.stdout.strip()


def start_encrypt(recipient: str, source: IO[bytes]) -> subprocess.Popen[bytes]:
    """``age --encrypt`` reading ``source`` and writing ciphertext to its stdout pipe."""
    return subprocess.Popen(
        [AGE, "--encrypt", "--recipient", recipient],
        stdin=source,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def start_decrypt(identity_file: Path) -> subprocess.Popen[bytes]:
    """``age --decrypt`` with ciphertext on stdin and plaintext on stdout."""
    return subprocess.Popen(
        [AGE, "--decrypt", "--identity", str(identity_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
