#!/usr/bin/env python3
"""The conductor's agent: the gate work done on a target host (backup, restore, verify, pins).

Ansible copies this file to each host of a step (`ansible.builtin.script`) and runs it with one of
the modes below and a base64-encoded JSON spec; it prints one JSON document on stdout. It uses the
standard library only, so any host Ansible can manage can run it. The conductor also imports it to
run checks whose origin is the controller, so each check has exactly one implementation.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHUNK = 1024 * 1024


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _run(
    argv: list[str], *, stdout: Any = subprocess.PIPE, stdin: Any = None, timeout: float = 3600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, stdout=stdout, stdin=stdin, stderr=subprocess.PIPE, text=True, timeout=timeout, check=False
    )


def _psql(container: str | None, user: str, database: str, query: str) -> subprocess.CompletedProcess[str]:
    base = ["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database, "-c", query]
    if container:
        return _run(["podman", "exec", container, *base], timeout=60)
    return _run(["runuser", "-u", user, "--", *base[:6], *base[8:]], timeout=60)


def _literal(name: str) -> str:
    """A database name as an SQL string literal; names are identifiers, anything else is refused."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"invalid database name {name!r}")
    return f"'{name}'"


def _pg_exists(container: str | None, user: str, database: str) -> bool:
    query = f"SELECT 1 FROM pg_database WHERE datname = {_literal(database)}"  # noqa: S608 - identifier checked
    return _psql(container, user, "postgres", query).stdout.strip() == "1"


def _mysql_exists(database: str) -> bool:
    """True when the host's MariaDB holds `database`; False when no MariaDB client is installed (nothing to back up).

    An installed server that does not answer is an error: a backup-first gate must not skip what it cannot read.
    """
    if shutil.which("mysql") is None:
        return False
    query = f"SELECT 1 FROM information_schema.schemata WHERE schema_name = {_literal(database)}"  # noqa: S608
    probe = _run(["mysql", "-N", "-s", "-e", query], timeout=60)
    if probe.returncode != 0:
        raise RuntimeError(f"MariaDB did not answer whether {database} exists: {probe.stderr.strip() or 'no output'}")
    return probe.stdout.strip() == "1"


def _container_running(name: str) -> bool:
    proc = _run(["podman", "container", "inspect", "--format", "{{.State.Running}}", name], timeout=60)
    return proc.returncode == 0 and proc.stdout.strip() == "true"


# -- backup and restore -------------------------------------------------------------------------


def backup(spec: dict[str, Any]) -> dict[str, Any]:
    """Copy every declared item into <root>/<id>/ and write manifest.json with sha256 per file."""
    folder = Path(spec["root"]) / spec["id"]
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    items: list[dict[str, Any]] = []
    for index, source in enumerate(spec.get("paths", [])):
        item: dict[str, Any] = {"kind": "path", "source": source}
        if os.path.lexists(source):
            target = folder / f"path-{index}.tar.gz"
            proc = _run(
                [
                    "tar",
                    "--create",
                    "--gzip",
                    "--numeric-owner",
                    "--xattrs",
                    "--acls",
                    "--file",
                    str(target),
                    "--directory",
                    "/",
                    source.lstrip("/"),
                ]
            )
            if proc.returncode != 0:
                raise RuntimeError(f"tar of {source} failed: {proc.stderr.strip()}")
            item.update(present=True, file=target.name)
        else:
            item["present"] = False
        items.append(item)
    for index, db in enumerate(spec.get("postgres", [])):
        item = {
            "kind": "postgres",
            "source": db["database"],
            "container": db.get("container"),
            "user": db.get("user", "postgres"),
        }
        container = db.get("container")
        exists = (not container or _container_running(container)) and _pg_exists(
            container, item["user"], db["database"]
        )
        if exists:
            target = folder / f"postgres-{index}.dump"
            argv = ["pg_dump", "--format=custom", "-U", item["user"], db["database"]]
            argv = (
                ["podman", "exec", container, *argv]
                if container
                else ["runuser", "-u", item["user"], "--", *argv[:2], argv[-1]]
            )
            with target.open("wb") as out:
                dump = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, check=False, timeout=3600)
            if dump.returncode != 0:
                raise RuntimeError(
                    f"pg_dump of {db['database']} failed: {dump.stderr.decode(errors='replace').strip()}"
                )
            item.update(present=True, file=target.name)
        else:
            item["present"] = False
        items.append(item)
    for index, db in enumerate(spec.get("mysql", [])):
        item = {"kind": "mysql", "source": db["database"]}
        if _mysql_exists(db["database"]):
            target = folder / f"mysql-{index}.sql"
            with target.open("w") as out:
                proc = _run(
                    ["mysqldump", "--single-transaction", "--routines", "--triggers", "--databases", db["database"]],
                    stdout=out,
                )
            if proc.returncode != 0:
                raise RuntimeError(f"mysqldump of {db['database']} failed: {proc.stderr.strip()}")
            item.update(present=True, file=target.name)
        else:
            item["present"] = False
        items.append(item)
    for index, volume in enumerate(spec.get("volumes", [])):
        item = {"kind": "volume", "source": volume}
        if _run(["podman", "volume", "exists", volume]).returncode == 0:
            target = folder / f"volume-{index}.tar"
            proc = _run(["podman", "volume", "export", volume, "--output", str(target)])
            if proc.returncode != 0:
                raise RuntimeError(f"podman volume export {volume} failed: {proc.stderr.strip()}")
            item.update(present=True, file=target.name)
        else:
            item["present"] = False
        items.append(item)
    for item in items:
        if item.get("file"):
            path = folder / item["file"]
            item.update(sha256=sha256_of(path), size=path.stat().st_size)
    manifest = {
        "id": spec["id"],
        "host": socket.gethostname(),
        "location": str(folder),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "items": items,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def restore(spec: dict[str, Any]) -> dict[str, Any]:
    """Put a backup back: every checksum is verified before anything is touched."""
    folder = Path(spec["root"]) / spec["id"]
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise RuntimeError(f"no backup manifest at {manifest_path}")
    manifest = json.loads(manifest_path.read_text())
    for item in manifest["items"]:
        if item.get("file") and sha256_of(folder / item["file"]) != item["sha256"]:
            raise RuntimeError(
                f"checksum mismatch for {folder / item['file']}: the backup is damaged, nothing restored"
            )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    restored: list[str] = []
    for item in manifest["items"]:
        kind, source = item["kind"], item["source"]
        if kind == "path":
            if os.path.lexists(source):
                aside = f"{source}.motorcade-pre-restore-{stamp}"
                Path(source).rename(aside)
                restored.append(f"moved current {source} to {aside}")
            if item["present"]:
                proc = _run(
                    [
                        "tar",
                        "--extract",
                        "--gzip",
                        "--numeric-owner",
                        "--xattrs",
                        "--acls",
                        "--same-permissions",
                        "--file",
                        str(folder / item["file"]),
                        "--directory",
                        "/",
                    ]
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"untar of {source} failed: {proc.stderr.strip()}")
                restored.append(f"restored {source}")
        elif kind == "postgres" and item["present"]:
            container, user = item.get("container"), item.get("user", "postgres")
            exists = _pg_exists(container, user, source)
            if not exists:
                _psql(container, user, "postgres", f'CREATE DATABASE "{source}"')
            argv = [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--exit-on-error",
                "--single-transaction",
                "-U",
                user,
                "-d",
                source,
            ]
            argv = (
                ["podman", "exec", "-i", container, *argv]
                if container
                else ["runuser", "-u", user, "--", *argv[:5], *argv[7:]]
            )
            with (folder / item["file"]).open("rb") as handle:
                loaded = subprocess.run(argv, stdin=handle, capture_output=True, check=False, timeout=3600)
            if loaded.returncode != 0:
                raise RuntimeError(f"pg_restore of {source} failed: {loaded.stderr.decode(errors='replace').strip()}")
            restored.append(f"restored PostgreSQL database {source}")
        elif kind == "mysql" and item["present"]:
            with (folder / item["file"]).open() as handle:
                proc = _run(["mysql"], stdin=handle)
            if proc.returncode != 0:
                raise RuntimeError(f"mysql restore of {source} failed: {proc.stderr.strip()}")
            restored.append(f"restored MariaDB database {source}")
        elif kind == "volume" and item["present"]:
            if _run(["podman", "volume", "exists", source]).returncode != 0:
                _run(["podman", "volume", "create", source])
            proc = _run(["podman", "volume", "import", source, str(folder / item["file"])])
            if proc.returncode != 0:
                raise RuntimeError(f"podman volume import {source} failed: {proc.stderr.strip()}")
            restored.append(f"restored volume {source}")
    return {"id": manifest["id"], "restored": restored}


# -- verification checks ------------------------------------------------------------------------


def check(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one check; return {id, kind, passed, detail}. Never raises for a failing check."""
    kind = spec["kind"]
    try:
        passed, detail = _CHECKS[kind](spec)
    except Exception as exc:  # a check that cannot run is a failed check, with the reason
        passed, detail = False, f"{type(exc).__name__}: {exc}"
    return {"id": spec["id"], "kind": kind, "passed": passed, "detail": detail}


def _http(spec: dict[str, Any]) -> tuple[bool, str]:
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=spec.get("ca_path"))
    if not spec.get("validate_certs", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if not str(spec["url"]).startswith(("http://", "https://")):
        return False, f"{spec['url']} is not an http(s) URL"
    request = urllib.request.Request(spec["url"], headers={"User-Agent": "motorcade-verify"})  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310 - checked above
            status, body = response.status, response.read(1 << 20).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(1 << 20).decode(errors="replace")
    if status != spec.get("status", 200):
        return False, f"{spec['url']} answered {status}, expected {spec.get('status', 200)}"
    if spec.get("contains") and spec["contains"] not in body:
        return False, f"{spec['url']} answered {status} without {spec['contains']!r} in the body"
    return True, f"{spec['url']} answered {status}"


def _tcp(spec: dict[str, Any]) -> tuple[bool, str]:
    host, port, want_open = spec.get("host", "127.0.0.1"), spec["port"], spec.get("state", "open") == "open"
    try:
        with socket.create_connection((host, port), timeout=5):
            is_open = True
    except OSError:
        is_open = False
    state = "open" if is_open else "closed"
    return is_open == want_open, f"{host}:{port} is {state}"


def _file(spec: dict[str, Any]) -> tuple[bool, str]:
    path = Path(spec["path"])
    if not path.exists():
        return False, f"{path} does not exist"
    problems = []
    info = path.stat()
    if spec.get("mode") and oct(info.st_mode & 0o7777) != oct(int(spec["mode"], 8)):
        problems.append(f"mode {oct(info.st_mode & 0o7777)[2:]:>04} != {spec['mode']}")
    if spec.get("owner"):
        import pwd

        owner = pwd.getpwuid(info.st_uid).pw_name
        if owner != spec["owner"]:
            problems.append(f"owner {owner} != {spec['owner']}")
    if spec.get("sha256") and path.is_file() and sha256_of(path) != spec["sha256"]:
        problems.append("sha256 differs")
    if spec.get("contains") and path.is_file() and spec["contains"] not in path.read_text(errors="replace"):
        problems.append(f"does not contain {spec['contains']!r}")
    return (not problems), f"{path}: " + (", ".join(problems) if problems else "present")


def _command(spec: dict[str, Any]) -> tuple[bool, str]:
    proc = _run(list(spec["argv"]), timeout=300)
    out = proc.stdout.strip()
    shown = " ".join(spec["argv"])
    if proc.returncode != spec.get("rc", 0):
        err = (proc.stderr.strip() or out).splitlines()[-1:] or [""]
        return False, f"`{shown}` exited {proc.returncode}, expected {spec.get('rc', 0)}: {err[0][:200]}"
    if spec.get("stdout_equals") is not None and out != spec["stdout_equals"]:
        return False, f"`{shown}` printed {out[:200]!r}, expected {spec['stdout_equals']!r}"
    if spec.get("stdout_contains") and spec["stdout_contains"] not in out:
        return False, f"`{shown}` output lacks {spec['stdout_contains']!r}"
    return True, f"`{shown}` exited {proc.returncode}"


def _sql(spec: dict[str, Any]) -> tuple[bool, str]:
    proc = _psql(spec.get("container"), spec.get("user", "postgres"), spec["database"], spec["query"])
    if proc.returncode != 0:
        return False, f"query failed: {proc.stderr.strip()[:300]}"
    got = proc.stdout.strip()
    return got == spec["expect"], f"query returned {got[:200]!r}" + (
        "" if got == spec["expect"] else f", expected {spec['expect']!r}"
    )


def _container(spec: dict[str, Any]) -> tuple[bool, str]:
    name = spec["name"]
    if not _container_running(name):
        return False, f"container {name} is not running"
    if spec.get("healthy"):
        proc = _run(["podman", "healthcheck", "run", name], timeout=120)
        if proc.returncode != 0:
            return False, f"container {name} is running but not healthy: {(proc.stdout + proc.stderr).strip()[:200]}"
        return True, f"container {name} is running and healthy"
    return True, f"container {name} is running"


def _unit(spec: dict[str, Any]) -> tuple[bool, str]:
    name = spec["name"]
    found = []
    ok = True
    if _run(["systemctl", "cat", name]).returncode != 0:
        return False, f"unit {name} does not exist"
    for query, want in (("is-active", spec.get("active")), ("is-enabled", spec.get("enabled"))):
        if want is None:
            continue
        got = _run(["systemctl", query, name]).stdout.strip()
        found.append(f"{query}={got}")
        ok = ok and got == want
    return ok, f"unit {name}: " + (", ".join(found) or "exists")


_CHECKS = {
    "http": _http,
    "tcp": _tcp,
    "file": _file,
    "command": _command,
    "sql": _sql,
    "container": _container,
    "unit": _unit,
}


def verify(spec: dict[str, Any]) -> dict[str, Any]:
    return {"results": [check(c) for c in spec.get("checks", [])]}


# -- pins ---------------------------------------------------------------------------------------


def pins(spec: dict[str, Any]) -> dict[str, Any]:
    """The version each component actually has on this host."""
    found: dict[str, Any] = {}
    for pin in spec.get("pins", []):
        kind = pin["kind"]
        if kind == "package":
            proc = _run(["dpkg-query", "--showformat=${Version}", "--show", pin["name"]])
        elif kind == "image":
            proc = _run(["podman", "image", "inspect", "--format", "{{.Id}}", pin["name"]])
        else:
            proc = _run(list(pin["argv"]))
        version = proc.stdout.strip()
        if proc.returncode != 0 or not version:
            found[pin["component"]] = {"error": (proc.stderr.strip() or "no version found")[:300]}
        else:
            found[pin["component"]] = {"version": version.splitlines()[0]}
    return found


MODES = {"backup": backup, "restore": restore, "verify": verify, "pins": pins}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in MODES:
        print(json.dumps({"error": "usage: agent.py backup|restore|verify|pins BASE64_JSON_SPEC"}))
        return 2
    spec = json.loads(base64.b64decode(argv[2]))
    try:
        result = MODES[argv[1]](spec)
    except Exception as exc:  # reported to the conductor as one line
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(sys.argv))
