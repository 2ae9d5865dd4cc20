"""Health, readiness, least privilege, migrations, settings, the CLI and the log lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from motorcade_service.logs import JsonFormatter
from motorcade_service.migrate import Migration, MigrationError, Migrations
from pydantic import ValidationError

from lead_intake.app import create_app
from lead_intake.migrate import migrate
from lead_intake.settings import Settings
from lead_intake_helpers import auth, lead_body
from motorcade_service_testing import ContractCluster, free_port, live_server, service_process


def test_healthz_and_readyz(client: httpx.Client) -> None:
    """/healthz answers ok and /readyz confirms the database is reachable and migrated."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "schema version 1" in ready.json()["detail"]


def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    """With the database unreachable the process still starts: /healthz answers 200 and /readyz 503."""
    broken = settings.model_copy(update={"db_port": 1, "db_connect_timeout": 1})
    with live_server(create_app(broken)) as url, httpx.Client(base_url=url, timeout=15) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["detail"] == "database unreachable"


def test_runtime_role_cannot_write_api_keys_or_migrations(cluster: ContractCluster) -> None:
    """lead_intake_app can insert leads but not create API keys, rewrite migration history or create tables."""
    with psycopg.connect(cluster.conninfo("lead_intake_app"), autocommit=True) as conn:
        for statement in (
            "INSERT INTO leads.api_keys (name, key_prefix, key_hash, scopes) VALUES ('x', 'x', 'x', '{}')",
            "DELETE FROM leads.schema_migrations",
            "CREATE TABLE leads.intruder (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_people_role_reads_leads_but_not_api_keys(cluster: ContractCluster, settings: Settings) -> None:
    """people_app may read leads (to convert them) but neither the API key hashes nor write leads."""
    with psycopg.connect(cluster.conninfo("people_app"), autocommit=True) as conn:
        conn.execute("SELECT id FROM leads.leads LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT key_hash FROM leads.api_keys")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE leads.leads SET status = 'won'")


def test_migrate_twice_applies_nothing_the_second_time(settings: Settings) -> None:
    """Migrations are tracked: a second run finds nothing pending."""
    assert migrate(settings.migration_conninfo()) == []


def test_changed_migration_is_detected(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration edited after it was applied stops the runner with a clear error."""
    tampered = [Migration(1, "leads", "SELECT 1")]
    monkeypatch.setattr(Migrations, "shipped", lambda self: tampered)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(settings.migration_conninfo())


def test_placeholder_secret_refused_outside_development() -> None:
    """'changethis' as the database password is refused in production and accepted in development."""
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", db_password="changethis")
    assert Settings(environment="development", db_password="changethis").environment == "development"


def test_secret_read_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LEAD_INTAKE_DB_PASSWORD_FILE provides the password (trailing newline dropped); setting both forms is an error."""
    secret = tmp_path / "db_password"
    secret.write_text("s3cret-from-a-file\n")
    monkeypatch.setenv("LEAD_INTAKE_DB_PASSWORD_FILE", str(secret))
    assert Settings().db_password.get_secret_value() == "s3cret-from-a-file"
    monkeypatch.setenv("LEAD_INTAKE_DB_PASSWORD", "other")
    with pytest.raises(ValueError, match="not both"):
        Settings()


def test_workers_default_to_the_usable_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """WORKERS defaults to the CPUs the process may use (a container's cpuset included) and can be set."""
    assert Settings(environment="development").workers == len(os.sched_getaffinity(0))
    monkeypatch.setenv("LEAD_INTAKE_WORKERS", "3")
    assert Settings(environment="development").workers == 3


def test_write_concurrency_must_fit_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each statement storing leads holds a pooled connection: more of them than the pool holds is refused."""
    monkeypatch.setenv("LEAD_INTAKE_DB_POOL_MAX_SIZE", "4")
    monkeypatch.setenv("LEAD_INTAKE_WRITE_CONCURRENCY", "5")
    with pytest.raises(ValidationError, match="write_concurrency must not exceed db_pool_max_size"):
        Settings(environment="development")
    monkeypatch.setenv("LEAD_INTAKE_WRITE_CONCURRENCY", "4")
    assert Settings(environment="development").write_concurrency == 4


def test_rate_limit_is_shared_out_between_workers(settings: Settings) -> None:
    """With n workers each holds 1/n of the rate and burst, so the configured limit stays a ceiling per client."""
    shared = settings.model_copy(update={"workers": 2, "rate_limit_per_minute": 60.0, "rate_limit_burst": 10})
    limiter = create_app(shared).state.rate_limiter
    assert (limiter.rate, limiter.burst) == (0.5, 5)
    assert create_app(shared.model_copy(update={"workers": 16})).state.rate_limiter.burst == 1


def test_serve_starts_the_configured_number_of_workers(settings: Settings) -> None:
    """`serve` with WORKERS=2 runs two uvicorn worker processes, and both answer."""
    env = _env(settings) | {"LEAD_INTAKE_HOST": "127.0.0.1", "LEAD_INTAKE_PORT": str(free_port())}
    with service_process("lead_intake", env | {"LEAD_INTAKE_WORKERS": "2"}) as service:
        deadline = time.monotonic() + 30
        while sum("Application startup complete" in line for line in service.lines) < 2:
            assert time.monotonic() < deadline, service.lines
            time.sleep(0.1)
        assert httpx.get(f"{service.base_url}/healthz").status_code == 200
        lines = service.stop()
    started = {json.loads(line)["event"] for line in lines if "Started server process" in line}
    assert len(started) == 2, lines


def test_serve_answers_on_a_socket_systemd_passed_with_each_client_rate_limited(
    settings: Settings, tmp_path: Path
) -> None:
    """`serve` started as systemd starts it with a socket unit (the listening socket as fd 3, LISTEN_FDS=1,
    LISTEN_PID its own) answers on that Unix socket as well as on its port. Over the socket the proxy's
    X-Forwarded-For names the client, so the per-client rate limit holds each client apart."""
    path = tmp_path / "lead-intake.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(path))
    listening.listen()
    port = free_port()
    env = _env(settings) | {
        "PATH": os.environ["PATH"],
        "LEAD_INTAKE_HOST": "127.0.0.1",
        "LEAD_INTAKE_PORT": str(port),
        "LEAD_INTAKE_FORWARDED_ALLOW_IPS": "unix:",
        "LEAD_INTAKE_RATE_LIMIT_BURST": "1",
        "LEAD_INTAKE_RATE_LIMIT_PER_MINUTE": "1",
    }
    fd = listening.fileno()
    # As systemd does: fd 3 is the socket and LISTEN_PID the pid of the process that execs (kept by exec).
    trampoline = (
        f"import os, sys; os.dup2({fd}, 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
        "os.execv(sys.executable, [sys.executable, '-m', 'lead_intake', 'serve'])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", trampoline],
        env=env | {"LISTEN_FDS": "1"},
        pass_fds=(fd,),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    listening.close()
    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://lead-intake") as over_socket:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if over_socket.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        process.kill()
                        pytest.fail(f"serve did not answer on the socket: {process.communicate()[0].decode()[-2000:]}")
                    time.sleep(0.1)
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            tag = uuid.uuid4().hex[:8]
            answers = [
                over_socket.post("/leads", json=lead_body(source=f"sock-{tag}"), headers={"X-Forwarded-For": client})
                for client in ("203.0.113.7", "203.0.113.7", "198.51.100.9")
            ]
        assert [answer.status_code for answer in answers] == [201, 429, 201]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert f"serving on unix:{path} (passed by systemd)" in output, output[-2000:]


def _env(settings: Settings) -> dict[str, str]:
    return {
        "LEAD_INTAKE_ENVIRONMENT": "production",
        "LEAD_INTAKE_DB_HOST": settings.db_host,
        "LEAD_INTAKE_DB_PORT": str(settings.db_port),
        "LEAD_INTAKE_DB_PASSWORD": settings.db_password.get_secret_value(),
        "LEAD_INTAKE_MIGRATION_DB_PASSWORD": settings.migration_db_password.get_secret_value(),
        "LEAD_INTAKE_WORKERS": "1",
    }


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_intake", *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]} | _env(settings) | env,
        check=False,
        timeout=60,
    )


def test_cli_creates_a_working_key_and_migrates(settings: Settings, client: httpx.Client) -> None:
    """`create-api-key` prints a key once that then authenticates; `migrate` reports nothing pending."""
    created = _cli(settings, "create-api-key", "--name", f"cli-{uuid.uuid4().hex[:6]}", "--scope", "leads:read")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("mli_") and client.get("/leads", headers=auth(key)).status_code == 200
    migrated = _cli(settings, "migrate")
    assert (migrated.returncode, migrated.stdout.strip()) == (0, "no pending migrations")


def test_cli_refuses_placeholder_in_one_line(settings: Settings) -> None:
    """The CLI turns a placeholder secret into a one-line error and exit code 1, without a traceback."""
    result = _cli(settings, "migrate", LEAD_INTAKE_MIGRATION_DB_PASSWORD="changethis")
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "placeholder" in result.stderr


def test_log_lines_carry_no_personal_data(settings: Settings, staff_key: str) -> None:
    """The real `serve` process, at DEBUG, logs JSON lines without a lead's data through submit, retry, bad input,
    list, read and status change."""
    marker = uuid.uuid4().hex[:10]
    personal = {
        "name": f"Zed Privacy{marker}",
        "email": f"zed.{marker}@example.net",
        "phone": "+41 79 555 12 34",
        "message": f"secret note {marker}",
        "service": f"limousine {marker}",
    }
    env = _env(settings) | {
        "LEAD_INTAKE_HOST": "127.0.0.1",
        "LEAD_INTAKE_PORT": str(free_port()),
        "LEAD_INTAKE_LOG_LEVEL": "DEBUG",
    }
    with service_process("lead_intake", env) as service, httpx.Client(base_url=service.base_url) as client:
        key = {"Idempotency-Key": f"idem-{marker}"}
        lead_id = client.post("/leads", json=lead_body(**personal), headers=key).json()["id"]
        client.post("/leads", json=lead_body(**personal), headers=key)
        client.post("/leads", json=lead_body(**(personal | {"email": f"bad {marker}"})))
        client.post("/leads", json=lead_body(**(personal | {f"x-{marker}": 1})))
        client.get("/leads", params={"source": "website", "cursor": marker}, headers=auth(staff_key))
        client.get(f"/leads/{lead_id}", headers=auth(staff_key))
        client.post(
            f"/leads/{lead_id}/status",
            json={"status": "contacted", "note": f"called {marker}"},
            headers=auth(staff_key),
        )
        lines = service.stop()
    assert any('"route": "/leads/{lead_id}/status"' in line for line in lines), lines
    intake = [json.loads(line) for line in lines if '"route": "/leads"' in line and '"method": "POST"' in line]
    assert [entry["status"] for entry in intake] == [201, 200, 422, 422], intake
    # One line per request: a created lead's id and source are in its access line, a replay names the same lead.
    assert (intake[0]["lead_id"], intake[0]["source"], "replayed" in intake[0]) == (lead_id, "website", False)
    assert (intake[1]["lead_id"], intake[1]["replayed"]) == (lead_id, True)
    assert "lead_id" not in intake[2]
    text = "\n".join(lines)
    for value in [marker, "79 555", "+41795551234"]:
        assert value not in text, f"{value!r} leaked into the logs"
    for line in lines:
        assert json.loads(line)["service"] == "lead_intake"


def test_unexpected_error_logs_type_not_message() -> None:
    """The JSON formatter renders an exception as its type and frames, never its message (which may hold user data)."""
    import logging

    try:
        raise RuntimeError("Key (email)=(someone@example.org) already exists")
    except RuntimeError:
        record = logging.LogRecord(
            "lead_intake.x", logging.ERROR, __file__, 1, "unexpected_error", None, sys.exc_info()
        )
    line = JsonFormatter("lead_intake").format(record)
    assert "RuntimeError" in line and "someone@example.org" not in line


def test_intake_answers_carry_the_request_id(client: httpx.Client) -> None:
    """POST /leads echoes a plain X-Request-ID on success and on errors, and replaces one it will not log."""
    created = client.post("/leads", json=lead_body(), headers={"X-Request-ID": "form-42.a_b"})
    assert created.status_code == 201 and created.headers["x-request-id"] == "form-42.a_b"
    invalid = client.post("/leads", json=lead_body(consent=False), headers={"X-Request-ID": "form-43"})
    assert invalid.status_code == 422 and invalid.headers["x-request-id"] == "form-43"
    odd = client.post("/leads", json=lead_body(), headers={"X-Request-ID": "two words\tand a tab"})
    assert odd.status_code == 201 and odd.headers["x-request-id"] != "two words\tand a tab"
    assert len(odd.headers["x-request-id"]) == 32
    headers = {"X-Request-ID": "form-44", "Content-Type": "application/json"}
    too_large = client.post("/leads", content=b"{" + b" " * 70_000 + b"}", headers=headers)
    assert too_large.status_code == 413
    assert too_large.headers["x-request-id"] == "form-44"


def test_submissions_after_the_server_closed_the_pooled_connections_succeed(
    cluster: ContractCluster, client: httpx.Client
) -> None:
    """A restart or a restore closes every connection the pool holds: the next submissions get fresh ones, not 500."""
    assert client.post("/leads", json=lead_body()).status_code == 201
    with psycopg.connect(cluster.superuser_conninfo(), autocommit=True) as admin:
        closed = admin.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE usename = 'lead_intake_app'"
        ).fetchone()
    assert closed is not None and closed[0] >= 1
    statuses = [client.post("/leads", json=lead_body()).status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 201]
