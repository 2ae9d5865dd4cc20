"""Issue 6 in the lab: after PLAT_07, a backup taken on demand restores rows written through the lead-intake API
exactly, the restore drill passes, and a backup killed mid-upload leaves every complete backup intact."""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunbookLab

pytestmark = pytest.mark.lab

TOOL = "/opt/motorcade-backup/venv/bin/motorcade-backup"
PYTHON = "/opt/motorcade-backup/venv/bin/python"
CONFIG = "/etc/motorcade/backup/backup.env"
PSQL = "podman exec -i motorcade-postgres psql -U postgres -d motorcade -AtX -v ON_ERROR_STOP=1 -q"
# Where PLAT_06 exports Caddy's internal root CA on the lab host (caddy_proxy_internal_root_export).
INTERNAL_ROOT = "/etc/motorcade/caddy/internal-root.crt"
BULK_ROWS = 1_000_000  # ~70 MB of incompressible-ish text: a dump of several 5 MiB parts

# Run on the lab host with the tool's own virtualenv: start a backup with 5 MiB parts in its own process group,
# SIGKILL the group (pg_dump, age, the uploader) as soon as S3 holds an uploaded part of it, and report.
KILL_MID_UPLOAD = """
import json, os, signal, subprocess, sys, time
from pathlib import Path
from motorcade_backup.s3 import make_client
from motorcade_backup.settings import load_settings

settings = load_settings(Path(sys.argv[1]))
client = make_client(settings)
bucket, prefix = settings.s3_bucket, settings.key_prefix
env = {**os.environ, "MOTORCADE_BACKUP_PART_SIZE_MB": "5", "MOTORCADE_BACKUP_UPLOAD_CONCURRENCY": "1"}
proc = subprocess.Popen([sys.argv[2], "--config", sys.argv[1], "backup", "--tier", "daily"], env=env,
                        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 600
while True:
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
    parts = sum(len(client.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
                for u in uploads)
    if parts:
        os.killpg(proc.pid, signal.SIGKILL)
        break
    if proc.poll() is not None or time.monotonic() > deadline:
        print(json.dumps({"killed": False, "rc": proc.poll()}))
        sys.exit(3)
    time.sleep(0.05)
rc = proc.wait()
left = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])
print(json.dumps({"killed": True, "rc": rc, "parts_seen": parts, "unfinished_uploads": len(left)}))
"""

# The bucket's leftovers of this database: unfinished multipart uploads and objects that no manifest names.
LEFTOVERS = """
import json, sys
from pathlib import Path
from motorcade_backup.catalog import load_catalog
from motorcade_backup.s3 import make_client
from motorcade_backup.settings import load_settings

settings = load_settings(Path(sys.argv[1]))
client = make_client(settings)
uploads = client.list_multipart_uploads(Bucket=settings.s3_bucket, Prefix=settings.key_prefix).get("Uploads", [])
catalog = load_catalog(client, settings)
print(json.dumps({"uploads": len(uploads), "orphans": catalog.orphans, "broken": catalog.broken}))
"""


def run_on_host(lab: RunbookLab, script: str, timeout: float = 900) -> str:
    """`script` as root on the lab host; its stdout, or a failure with what it said."""
    result = lab.on_host(script, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def sql(lab: RunbookLab, query: str, **variables: object) -> str:
    """`query` run by the postgres superuser in the motorcade database; psql's unaligned output.

    `variables` are psql variables: the query names them `:'name'` (a quoted literal) or `:name`, so no value is
    ever pasted into SQL text.
    """
    options = " ".join(f"-v {shlex.quote(f'{name}={value}')}" for name, value in variables.items())
    return run_on_host(lab, f"{PSQL} {options} <<'MOTORCADE_SQL'\n{query}\nMOTORCADE_SQL\n")


def tool(lab: RunbookLab, *args: str, timeout: float = 900) -> dict[str, Any]:
    """motorcade-backup with PLAT_07's settings; its final JSON line."""
    out = run_on_host(lab, f"{TOOL} --config {CONFIG} {shlex.join(args)}\n", timeout)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def venv_python(lab: RunbookLab, program: str, *args: str) -> dict[str, Any]:
    """`program` run by the tool's virtualenv Python on the lab host with `args`; its last line as JSON."""
    heredoc = f"{PYTHON} - {shlex.join(args)} <<'MOTORCADE_PY'\n{program}\nMOTORCADE_PY\n"
    result: dict[str, Any] = json.loads(run_on_host(lab, heredoc).strip().splitlines()[-1])
    return result


def complete_backups(lab: RunbookLab) -> dict[str, str]:
    """Complete backups in the bucket: backup id → SHA-256 of its object."""
    out = run_on_host(lab, f"{TOOL} --config {CONFIG} list --json\n")
    return {m["backup_id"]: m["sha256"] for m in json.loads(out)}


def backup_now(lab: RunbookLab) -> str:
    """Take a backup on demand through the installed unit (as the timer does); the new backup's id."""
    run_on_host(lab, "systemctl start motorcade-backup.service\n")
    latest = tool(lab, "latest", "--max-age-minutes", "5")
    assert latest["result"] == "latest_ok"
    return str(latest["backup_id"])


# Without PLAT_04 (no lead-intake API, no leads schema tables yet) the rows go into a table of the test's own.
OWN_TABLE = (
    "CREATE TABLE IF NOT EXISTS public.backup_test_leads (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
    "name text NOT NULL, email text, message text, source text NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now());"
)


def lead_form(source: str, i: int) -> dict[str, object]:
    """A valid intake form, unique to `source` and `i`, with text that survives only an exact restore."""
    return {
        "name": f"Backup Test {i}",
        "email": f"backup-{source}-{i}@example.org",
        "phone": "+41 44 555 01 23",
        "service": "airport transfer",
        "requested_window": {"start": "2031-05-01T09:00:00+02:00", "end": "2031-05-01T11:00:00+02:00"},
        "message": f"Row {i} of a backup test: ünïcödé, 'quotes' and \"doubles\".",
        "source": source,
        "consent": True,
    }


class Intake:
    """Known rows: leads through the lead-intake API behind the proxy when PLAT_04 and PLAT_06 are applied, else
    rows written with SQL into a table of the motorcade database."""

    def __init__(self, lab: RunbookLab) -> None:
        self.lab = lab
        self.through_api = lab.applied_ok("PLAT_04") and lab.applied_ok("PLAT_06")
        self.client: httpx.Client | None = None
        self.staff_key = ""
        if self.through_api:
            ca_file = lab.home / "backups-caddy-root.crt"
            ca_file.write_text(run_on_host(lab, f"cat {INTERNAL_ROOT}\n"), encoding="utf-8")
            base_url = f"https://localhost:{lab.config.port('https').host}"
            self.client = httpx.Client(base_url=base_url, verify=str(ca_file), timeout=15)
            self.staff_key = "mli_" + str(lab.vault()["vault_lead_intake_staff_api_key"])
        else:
            sql(lab, OWN_TABLE)

    def write(self, source: str, count: int) -> list[str]:
        """`count` rows of `source`; their ids."""
        if self.client is not None:
            ids = []
            for i in range(count):
                key = {"Idempotency-Key": secrets.token_hex(8)}
                created = self.client.post("/api/leads", json=lead_form(source, i), headers=key)
                assert created.status_code == 201, created.text
                ids.append(str(created.json()["id"]))
            return ids
        out = sql(
            self.lab,
            "INSERT INTO public.backup_test_leads (name, email, message, source) "
            "SELECT 'Backup Test ' || g, 'backup-' || :'source' || '-' || g || '@example.org', "
            "'Row ' || g || ' of a backup test: ünïcödé, ''quotes'' and \"doubles\".', :'source' "
            "FROM generate_series(0, :count - 1) g RETURNING id;",
            source=source,
            count=count,
        )
        return out.split()

    def snapshot(self, source: str) -> list[str]:
        """The rows of `source` (and, with the API, their status history), every column as text, in a stable order."""
        if self.through_api:
            query = (
                "SELECT l::text FROM leads.leads l WHERE source = :'source' ORDER BY id;"
                "SELECT h::text FROM leads.lead_status_history h JOIN leads.leads l ON l.id = h.lead_id "
                "WHERE l.source = :'source' ORDER BY h.id;"
            )
        else:
            query = "SELECT t::text FROM public.backup_test_leads t WHERE source = :'source' ORDER BY id;"
        return sql(self.lab, query, source=source).splitlines()

    def delete(self, source: str) -> None:
        """Delete the rows of `source` (as an operator's mistake would)."""
        if self.through_api:
            query = (
                "DELETE FROM leads.lead_status_history WHERE lead_id IN "
                "(SELECT id FROM leads.leads WHERE source = :'source');"
                "DELETE FROM leads.leads WHERE source = :'source';"
            )
        else:
            query = "DELETE FROM public.backup_test_leads WHERE source = :'source';"
        sql(self.lab, query, source=source)

    def read(self, lead_id: str) -> int:
        """The API's status code for one lead (through the proxy, with the staff key); 200 when it is there."""
        assert self.client is not None
        auth = {"Authorization": f"Bearer {self.staff_key}"}
        return self.client.get(f"/api/leads/{lead_id}", headers=auth).status_code


@pytest.fixture(scope="module")
def backups_lab(runbook_lab: RunbookLab) -> RunbookLab:
    """The session lab, with PLAT_07 through every gate."""
    assert runbook_lab.applied_ok("PLAT_07"), runbook_lab.applied.stdout[-6000:] + runbook_lab.applied.stderr
    return runbook_lab


@pytest.fixture
def intake(backups_lab: RunbookLab) -> Iterator[Intake]:
    writer = Intake(backups_lab)
    yield writer
    if writer.client is not None:
        writer.client.close()


def test_rows_deleted_after_a_backup_come_back_identical(backups_lab: RunbookLab, intake: Intake) -> None:
    """Leads written, backed up on demand, deleted and restored are back column for column; the drill passes."""
    lab = backups_lab
    source = f"backuptest-{secrets.token_hex(4)}"
    ids = intake.write(source, 5)
    assert len(ids) == 5
    before = intake.snapshot(source)
    assert len(before) == (10 if intake.through_api else 5)  # with the API, each lead has its "new" history entry
    grants = sql(lab, "SELECT datacl::text, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'motorcade';")

    earlier = complete_backups(lab)
    backup_id = backup_now(lab)
    assert backup_id not in earlier

    intake.delete(source)
    assert intake.snapshot(source) == []

    restored = tool(lab, "restore", backup_id, "--target-db", "motorcade", "--force")
    assert (restored["result"], restored["backup_id"]) == ("restore_ok", backup_id)
    assert intake.snapshot(source) == before
    # The swapped-in database keeps its owner and the CONNECT grants PLAT_03 gave (the apps log in with them).
    assert sql(lab, "SELECT datacl::text, pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'motorcade';") == (
        grants
    )

    drill = tool(lab, "drill", "--compare-live")
    assert (drill["result"], drill["backup_id"]) == ("drill_passed", backup_id)
    assert drill["tables"] > 0
    run_on_host(lab, "systemctl start motorcade-backup-drill.service\n")

    if intake.through_api:
        # The swap closed every connection of the API's pool: the very next request gets a fresh one and the restored
        # lead, not a 500 after the pool's timeout spent on the closed ones.
        assert intake.read(ids[0]) == 200


def test_a_backup_killed_mid_upload_leaves_complete_backups_intact(backups_lab: RunbookLab) -> None:
    """SIGKILL during the multipart upload leaves no new complete backup and the old ones unchanged; the next
    backup succeeds, clears the leftovers, and its drill passes."""
    lab = backups_lab
    if not complete_backups(lab):
        backup_now(lab)
    sql(
        lab,
        "DROP TABLE IF EXISTS public.backup_test_bulk;"
        "CREATE TABLE public.backup_test_bulk AS SELECT g AS id, "
        "md5(g::text) || md5((g::bigint * 7919)::text) AS filler FROM generate_series(1, :rows) g;",
        rows=BULK_ROWS,
    )
    try:
        before = complete_backups(lab)
        latest_before = tool(lab, "latest")["backup_id"]
        killed = venv_python(lab, KILL_MID_UPLOAD, CONFIG, TOOL)
        print(f"backup killed mid-upload: {killed}")
        assert killed["killed"], killed
        assert killed["rc"] == -9
        assert killed["unfinished_uploads"] >= 1  # the kill left its upload unfinished: invisible, never complete
        assert complete_backups(lab) == before
        assert tool(lab, "latest")["backup_id"] == latest_before

        next_id = backup_now(lab)
        assert next_id not in before
        after = complete_backups(lab)
        assert {b: s for b, s in after.items() if b in before} == {b: s for b, s in before.items() if b in after}
        leftovers = venv_python(lab, LEFTOVERS, CONFIG)
        assert leftovers == {"uploads": 0, "orphans": [], "broken": []}
        drill = tool(lab, "drill")
        assert (drill["result"], drill["backup_id"]) == ("drill_passed", next_id)
    finally:
        sql(lab, "DROP TABLE IF EXISTS public.backup_test_bulk;")
        # Leave a small newest backup, so later drills in this lab do not restore the bulk table.
        lab.on_host("systemctl start motorcade-backup.service\n", timeout=600)


def test_lab_s3_refuses_wrong_credentials(backups_lab: RunbookLab) -> None:
    """The lab's S3 server answers the vault's keys and refuses a wrong secret key (exit 5, one line)."""
    lab = backups_lab
    assert lab.vault()["vault_backup_s3_secret_key"]
    wrong = lab.on_host(
        "printf 'not-the-secret\\n' > /run/wrong-s3-secret\n"
        f"rc=0; MOTORCADE_BACKUP_S3_SECRET_KEY_FILE=/run/wrong-s3-secret {TOOL} --config {CONFIG} list || rc=$?\n"
        "rm -f /run/wrong-s3-secret\nexit $rc\n"
    )
    assert wrong.returncode == 5, wrong.stdout + wrong.stderr
    assert wrong.stderr.strip().startswith("motorcade-backup: error: ")
    assert len(wrong.stderr.strip().splitlines()) == 1
