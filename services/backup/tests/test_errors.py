"""Every failure the user can cause is one clear line on stderr with its own exit code, and leaks no secret."""

from __future__ import annotations

import fcntl
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Env, assert_no_secrets, free_port, ok


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("motorcade-backup: error: ")
    return lines[0]


@pytest.mark.parametrize("command", [["backup"], ["list"], ["restore", "--target-db", "mcb_never"], ["drill"]])
def test_wrong_secret_key_is_refused(env: Env, tmp_path: Path, command: list[str]) -> None:
    """A wrong S3 secret key gives exit 5 and one line for every command."""
    wrong = tmp_path / "wrong-secret"
    wrong.write_text("not-the-right-secret-key")
    result = env.run(*command, extra={"MOTORCADE_BACKUP_S3_SECRET_KEY_FILE": str(wrong)})
    assert result.returncode == 5
    assert "refused the credentials" in one_line(result)
    assert "not-the-right-secret-key" not in result.stdout + result.stderr


def test_unknown_access_key_is_refused(env: Env) -> None:
    """An access key the server does not know gives exit 5."""
    result = env.run("backup", extra={"MOTORCADE_BACKUP_S3_ACCESS_KEY": "UNKNOWNKEY123"})
    assert result.returncode == 5
    assert "refused the credentials" in one_line(result)
    assert "UNKNOWNKEY123" not in result.stdout + result.stderr


def test_missing_bucket(env: Env) -> None:
    """A bucket that does not exist gives exit 6 naming the bucket."""
    result = env.run("backup", extra={"MOTORCADE_BACKUP_S3_BUCKET": "mcb-no-such-bucket"})
    assert result.returncode == 6
    assert one_line(result) == (
        f"motorcade-backup: error: S3 bucket 'mcb-no-such-bucket' does not exist at {env.s3.endpoint}"
    )


def test_unreachable_endpoint(env: Env) -> None:
    """An endpoint nobody listens on gives exit 4."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = env.run("backup", extra={"MOTORCADE_BACKUP_S3_ENDPOINT": endpoint})
    assert result.returncode == 4
    assert one_line(result) == f"motorcade-backup: error: S3 endpoint {endpoint} is unreachable (checking the bucket)"


def test_database_unreachable_and_wrong_password(env: Env, tmp_path: Path) -> None:
    """A database that refuses us (wrong port, wrong password) gives exit 8, without the password."""
    dsn = env.vars["MOTORCADE_BACKUP_DATABASE_DSN"].replace(f"port={env.pg.port}", f"port={free_port()}")
    result = env.run("backup", extra={"MOTORCADE_BACKUP_DATABASE_DSN": dsn})
    assert result.returncode == 8
    assert "cannot connect to PostgreSQL" in one_line(result)
    wrong = tmp_path / "wrong-pg"
    wrong.write_text("wrong-db-password-123")
    result = env.run("backup", extra={"MOTORCADE_BACKUP_DATABASE_PASSWORD_FILE": str(wrong)})
    assert result.returncode == 8
    assert "password authentication failed" in one_line(result)
    assert "wrong-db-password-123" not in result.stdout + result.stderr


def test_configuration_errors(env: Env, tmp_path: Path) -> None:
    """A missing setting, an unreadable secret file or a non-age key file gives exit 3 naming the setting."""
    result = env.run("backup", extra={"MOTORCADE_BACKUP_S3_BUCKET": ""})
    assert result.returncode == 3
    assert "MOTORCADE_BACKUP_S3_BUCKET" in one_line(result)
    result = env.run("list", extra={"MOTORCADE_BACKUP_S3_SECRET_KEY_FILE": str(tmp_path / "absent")})
    assert result.returncode == 3
    assert "MOTORCADE_BACKUP_S3_SECRET_KEY_FILE" in one_line(result)
    bogus = tmp_path / "bogus.key"
    bogus.write_text("AGE-SECRET-KEY-NOTREALLYAKEY\n")
    result = env.run("backup", extra={"MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE": str(bogus)})
    assert result.returncode == 3
    assert "not an age identity" in one_line(result)
    assert "NOTREALLYAKEY" not in result.stdout + result.stderr


def test_wrong_encryption_key_fails_restore(env: Env, tmp_path: Path) -> None:
    """Restoring with another age identity fails decryption (exit 9) before touching any database."""
    env.backup()
    other = tmp_path / "other.key"
    subprocess.run(["age-keygen", "-o", str(other)], capture_output=True, check=True)
    result = env.run(
        "restore", "--target-db", "mcb_wrong_key", extra={"MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE": str(other)}
    )
    assert result.returncode == 9
    assert "does not decrypt with the configured key" in one_line(result)
    secret = next(x for x in other.read_text().splitlines() if x.startswith("AGE-SECRET-KEY-"))
    assert secret not in result.stdout + result.stderr
    with env.connect("postgres") as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = 'mcb_wrong_key'").fetchone() is None


def test_full_disk_during_restore(env: Env) -> None:
    """A 1 MiB tmpfs as the restore work dir runs out of space: exit 7, one line, target untouched, no leftovers."""
    with env.connect() as conn:
        conn.execute(
            "CREATE TABLE leads.noise AS SELECT g AS id, decode(md5(random()::text) || md5(g::text), 'hex') "
            "AS data FROM generate_series(1, 100000) AS g"
        )
    env.backup()
    mount = Path(tempfile.mkdtemp(prefix="mcb-tmpfs-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        result = env.run("restore", "--target-db", "mcb_disk_full", extra={"MOTORCADE_BACKUP_WORK_DIR": str(mount)})
        assert result.returncode == 7
        assert one_line(result).startswith(f"motorcade-backup: error: no space left on device in {mount}")
        assert list(mount.iterdir()) == []
        with env.connect("postgres") as conn:
            assert (
                conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname LIKE 'mcb\\_disk\\_full%' "
                    "OR datname LIKE 'mcb\\_restore\\_%'"
                ).fetchone()
                is None
            )
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def test_concurrent_backup_is_refused(env: Env) -> None:
    """While another backup of the same database holds the host lock, a second one exits 13."""
    lock_dir = Path(env.vars["MOTORCADE_BACKUP_LOCK_DIR"])
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"motorcade-backup-{env.database}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = env.run("backup")
    assert result.returncode == 13
    assert "another backup" in one_line(result)


def test_no_secret_in_any_output_at_debug_level(env: Env) -> None:
    """backup, list, restore and drill at DEBUG level (JSON logs, journald prefixes) print no credential or key."""
    debug = {"MOTORCADE_BACKUP_LOG_LEVEL": "DEBUG", "JOURNAL_STREAM": "8:12345"}
    outputs = [
        ok(env.run("backup", extra=debug)),
        ok(env.run("list", extra=debug)),
        ok(env.run("restore", "--target-db", env.database, "--force", extra=debug)),
        ok(env.run("drill", "--compare-live", extra=debug)),
    ]
    text = "\n".join(r.stdout + r.stderr for r in outputs)
    assert_no_secrets(text, env.secrets_dir)
    assert '"part_uploaded"' in text
    assert any(line.startswith("<6>{") for line in outputs[0].stdout.splitlines())
