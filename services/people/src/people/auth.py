"""Staff authentication: API keys stored as SHA-256 hashes, each with scopes, behind one replaceable dependency.

Why SHA-256 and not argon2: our keys are 256-bit random tokens, not human passwords. Nobody can brute-force a 256-bit
preimage, so a slow hash buys nothing and would cost ~50 ms of CPU on every staff request; a fast hash lets us look the
key up by an indexed equality on its hash, so no timing comparison of secrets happens in Python either.

Replacing API keys with OIDC later means writing another ``Authenticator`` (validate a JWT, map its claims to scopes)
and installing it in ``app.state.authenticator``; routes depend only on ``require_scopes`` and ``Principal``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import psycopg
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from people.db import Connection, ConnectionDep

KEY_PREFIX = "mpp_"
SCOPES = {
    "people:read": "Search and read people.",
    "people:write": "Create, change and delete people; convert leads into people.",
}
bearer = HTTPBearer(auto_error=False, description="A staff API key (later: an OIDC access token).")


@dataclass(frozen=True)
class Principal:
    """Who is calling (a key's name, later a token's subject) and what they may do."""

    subject: str
    scopes: frozenset[str]


class Authenticator(Protocol):
    async def authenticate(self, token: str, conn: Connection) -> Principal | None:
        """The principal the token stands for, or None when it is unknown, revoked or expired."""


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def generate_key() -> str:
    """A new key: a recognisable prefix (for secret scanners) and 32 random bytes."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyAuthenticator:
    """Looks keys up by their SHA-256 hash in ``people.api_keys``."""

    async def authenticate(self, token: str, conn: Connection) -> Principal | None:
        if not token.startswith(KEY_PREFIX) or len(token) > 200:
            return None
        cur = await conn.execute(
            "SELECT name, scopes FROM people.api_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(token),)
        )
        row = await cur.fetchone()
        return None if row is None else Principal(subject=f"api-key:{row['name']}", scopes=frozenset(row["scopes"]))


async def current_principal(
    request: Request,
    security_scopes: SecurityScopes,
    conn: ConnectionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, holding every scope the route asks for; 401 without valid credentials, 403 without scope."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer credentials", headers=challenge)
    authenticator: Authenticator = request.app.state.authenticator
    principal = await authenticator.authenticate(credentials.credentials, conn)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked credentials", headers=challenge)
    missing = sorted(set(security_scopes.scopes) - principal.scopes)
    if missing:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing scope: {', '.join(missing)}")
    return principal


def require_scopes(*scopes: str) -> Any:
    """A dependency granting access to principals holding all ``scopes``."""
    return Security(current_principal, scopes=list(scopes))


class ApiKeyError(ValueError):
    """An API key could not be created as asked."""


def create_api_key(conninfo: str, name: str, scopes: list[str]) -> str:
    """Store a new key's hash under ``name`` with ``scopes`` (as the migration role); return the key (shown once)."""
    unknown = sorted(set(scopes) - SCOPES.keys())
    if unknown or not scopes:
        raise ApiKeyError(f"unknown or no scopes {unknown}; choose from {', '.join(SCOPES)}")
    key = generate_key()
    try:
        with psycopg.connect(conninfo) as conn:
            conn.execute(
                "INSERT INTO people.api_keys (name, key_prefix, key_hash, scopes) VALUES (%s, %s, %s, %s)",
                (name, key[:12], hash_key(key), sorted(set(scopes))),
            )
    except psycopg.errors.UniqueViolation as error:
        raise ApiKeyError(f"an API key named {name!r} already exists") from error
    return key


def revoke_api_key(conninfo: str, name: str) -> None:
    """Revoke the key named ``name``."""
    with psycopg.connect(conninfo) as conn:
        cur = conn.execute(
            "UPDATE people.api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
        )
        if cur.rowcount != 1:
            raise ApiKeyError(f"no active API key named {name!r}")
