"""Staff authentication: API keys stored as SHA-256 hashes, each with scopes, behind one replaceable dependency.

Why SHA-256 and not argon2: our keys are 256-bit random tokens, not human passwords. Nobody can brute-force a 256-bit
preimage, so a slow hash buys nothing and would cost ~50 ms of CPU on every staff request; a fast hash lets us look the
key up by an indexed equality on its hash, so no timing comparison of secrets happens in Python either.

Each service describes its keys with ``ApiKeys`` (the schema holding its ``api_keys`` table, the prefix its keys start
with, its scopes). Replacing API keys with OIDC later means writing another ``Authenticator`` (validate a JWT, map its
claims to scopes) and installing it in ``app.state.authenticator``; routes depend only on ``require_scopes`` and
``Principal``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import psycopg
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes

from motorcade_service.db import Connection, ConnectionDep

bearer = HTTPBearer(auto_error=False, description="A staff API key (later: an OIDC access token).")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Principal:
    """Who is calling (a key's name, later a token's subject) and what they may do."""

    subject: str
    scopes: frozenset[str]


class Authenticator(Protocol):
    async def authenticate(self, token: str, conn: Connection) -> Principal | None:
        """The principal the token stands for, or None when it is unknown, revoked or expired."""


class ApiKeyError(ValueError):
    """An API key could not be created or revoked as asked."""


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


@dataclass(frozen=True)
class ApiKeys:
    """A service's staff keys: stored in ``<schema>.api_keys``, starting with ``prefix``, granting some of ``scopes``
    (scope name → what it allows, shown in the OpenAPI description and the CLI)."""

    schema: str
    prefix: str
    scopes: Mapping[str, str]

    def __post_init__(self) -> None:
        if not _SCHEMA.match(self.schema):  # it is written into SQL
            raise ValueError(f"not a plain schema name: {self.schema!r}")

    @property
    def table(self) -> str:
        return f"{self.schema}.api_keys"

    def generate(self) -> str:
        """A new key: the recognisable prefix (for secret scanners) and 32 random bytes."""
        return self.prefix + secrets.token_urlsafe(32)

    def create(self, conninfo: str, name: str, scopes: list[str]) -> str:
        """Store a new key's hash under ``name`` with ``scopes`` (as the migration role); return the key, shown once."""
        unknown = sorted(set(scopes) - self.scopes.keys())
        if unknown or not scopes:
            raise ApiKeyError(f"unknown or no scopes {unknown}; choose from {', '.join(self.scopes)}")
        key = self.generate()
        try:
            with psycopg.connect(conninfo) as conn:
                conn.execute(
                    f"INSERT INTO {self.table} (name, key_prefix, key_hash, scopes) VALUES (%s, %s, %s, %s)",
                    (name, key[:12], hash_key(key), sorted(set(scopes))),
                )
        except psycopg.errors.UniqueViolation as error:
            raise ApiKeyError(f"an API key named {name!r} already exists") from error
        return key

    def revoke(self, conninfo: str, name: str) -> None:
        """Revoke the key named ``name``."""
        with psycopg.connect(conninfo) as conn:
            cur = conn.execute(
                f"UPDATE {self.table} SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,)
            )
            if cur.rowcount != 1:
                raise ApiKeyError(f"no active API key named {name!r}")


class ApiKeyAuthenticator:
    """Looks keys up by their SHA-256 hash in the service's ``api_keys`` table."""

    def __init__(self, keys: ApiKeys) -> None:
        self.prefix = keys.prefix
        self.query = f"SELECT name, scopes FROM {keys.table} WHERE key_hash = %s AND revoked_at IS NULL"

    async def authenticate(self, token: str, conn: Connection) -> Principal | None:
        if not token.startswith(self.prefix) or len(token) > 200:
            return None
        cur = await conn.execute(self.query, (hash_key(token),))
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
