"""Install a staff API key whose value is given (a secret file), idempotently, with the service's own hashing.

Run inside the service's image as `python -c "$(cat install_api_key.py)" PACKAGE TABLE NAME SCOPES KEY_FILE`, with the
migration role's settings. The services' `create-api-key` command makes a new random key every time; here the key comes
from the vault so every environment knows it. Prints `created`, `updated` or `unchanged`; never the key.
"""

import importlib
import sys
from pathlib import Path

import psycopg
from motorcade_service.auth import hash_key

package, table, name, scopes_csv, key_file = sys.argv[1:6]
keys = importlib.import_module(f"{package}.auth").API_KEYS  # a motorcade_service.auth.ApiKeys
settings = importlib.import_module(f"{package}.settings").Settings()
key = Path(key_file).read_text(encoding="utf-8").strip()
if not key.startswith(keys.prefix) or len(key) < len(keys.prefix) + 32:
    sys.exit(f"error: the staff API key must start with {keys.prefix} and hold at least 32 more characters")
if table != keys.table:
    sys.exit(f"error: {package} keeps its API keys in {keys.table}, not {table}")
scopes = sorted(set(scopes_csv.split(",")))
unknown = sorted(set(scopes) - set(keys.scopes))
if unknown:
    sys.exit(f"error: unknown scopes {unknown}; choose from {', '.join(sorted(keys.scopes))}")
with psycopg.connect(settings.migration_conninfo()) as conn:
    existed = conn.execute(f"SELECT 1 FROM {table} WHERE name = %s", (name,)).fetchone() is not None  # noqa: S608
    cur = conn.execute(
        f"INSERT INTO {table} AS k (name, key_prefix, key_hash, scopes) VALUES (%s, %s, %s, %s) "  # noqa: S608
        "ON CONFLICT (name) DO UPDATE SET key_prefix = EXCLUDED.key_prefix, key_hash = EXCLUDED.key_hash, "
        "scopes = EXCLUDED.scopes, revoked_at = NULL "
        "WHERE (k.key_hash, k.scopes, k.revoked_at) IS DISTINCT FROM (EXCLUDED.key_hash, EXCLUDED.scopes, NULL)",
        (name, key[:12], hash_key(key), scopes),
    )
print(("updated" if existed else "created") if cur.rowcount else "unchanged")
