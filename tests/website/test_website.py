"""The website in the session's runbook lab, through a real browser: services pages, booking, refusals, the relay.

Needs the session lab (tests/runbook_lab.py), Debian's chromium and Playwright for Python. The relay's API is the lab's
own lead-intake API behind its reverse proxy when PLAT_04 and PLAT_06 are complete; otherwise a real lead-intake API
served from this machine (PostgreSQL 15 here) stands in for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.website.conftest import REFERENCE, TABLE, Site, free_port, serve_everywhere

pytestmark = pytest.mark.lab

SERVICES = {
    "services": "Our services",
    "airport-transfers": "Airport transfers",
    "chauffeur-service": "Chauffeur service",
    "errands-and-deliveries": "Errands and deliveries",
    "business-accounts": "Business accounts",
}
COUNT = f"SELECT COUNT(*) FROM {TABLE}"  # noqa: S608 - a constant table name


def book(page: Any, site: Site, name: str, email: str = "client@example.org", consent: bool = True) -> Any:
    """Fill in the booking form with the first free slot and send it; return the page after the answer."""
    page.goto(f"{site.url}/book/")
    page.fill("#mc_name", name)
    page.fill("#mc_email", email)
    page.fill("#mc_phone", "+33 1 23 45 67 89")
    page.select_option("#mc_service", "Airport transfer")
    first_slot = page.locator("#mc_slot option[value^='20']").first.get_attribute("value")
    page.select_option("#mc_slot", first_slot)
    page.fill("#mc_pickup", "12 rue de la Paix, Paris")
    page.fill("#mc_dropoff", "Terminal 2E")
    page.fill("#mc_message", "Two passengers,\nthree suitcases.")
    if consent:
        page.check("#mc_consent")
    page.click("#mc_submit")
    page.wait_for_load_state()
    return page


def stored(site: Site, reference: str) -> dict[str, str]:
    """The stored submission named `reference` (status, attempts, lead id, last error)."""
    assert REFERENCE.fullmatch(reference)  # so it is safe inside the SQL below
    rows = site.sql(
        f"SELECT status, attempts, IFNULL(lead_id,''), IFNULL(last_error,'') FROM {TABLE} "  # noqa: S608
        f"WHERE reference='{reference}'"
    )
    assert len(rows) == 1, f"{reference} is stored {len(rows)} times"
    status, attempts, lead_id, error = rows[0]
    return {"status": status, "attempts": attempts, "lead_id": lead_id, "error": error}


def relayed_after_a_run(site: Site, reference: str) -> bool:
    """Run the relay once; whether the submission `reference` is relayed afterwards."""
    site.relay_once()
    return stored(site, reference)["status"] == "relayed"


def eventually(check: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        time.sleep(2)


def test_services_pages_answer_in_a_browser(site: Site, page: Any) -> None:
    """Each services page declared in the lab inventory opens in Chromium with its title, and the home page lists it."""
    for slug, title in SERVICES.items():
        response = page.goto(f"{site.url}/{slug}/")
        assert response is not None
        assert response.status == 200
        assert page.locator("h1", has_text=title).count() >= 1
    page.goto(f"{site.url}/")
    assert "Motorcade" in page.title()


def test_booking_a_slot_shows_a_reference_and_stores_the_submission_once(site: Site, page: Any) -> None:
    """A client fills the form, picks a slot, sees a reference; the submission is stored once, waiting or relayed."""
    book(page, site, "Browser Client")
    assert "/booking-received/" in page.url
    reference = page.locator(".mc-reference").inner_text()
    assert REFERENCE.fullmatch(reference)
    assert page.locator(".mc-slot").inner_text()
    rows = site.sql(
        f"SELECT contact_name, service, status FROM {TABLE} WHERE reference='{reference}'"  # noqa: S608
    )
    assert len(rows) == 1, f"{reference} is stored {len(rows)} times"
    name, service, status = rows[0]
    assert (name, service) == ("Browser Client", "Airport transfer")
    assert status in {"pending", "relayed"}  # the relay's timer may already have sent it


def log_in(page: Any, site: Site) -> None:
    """Log in as the site's administrator and wait for the dashboard."""
    page.goto(f"{site.url}/wp-login.php")
    page.fill("#user_login", "motorcade-admin")
    page.fill("#user_pass", site.admin_password())
    page.click("#wp-submit")
    page.wait_for_url("**/wp-admin/**")


def test_the_admin_sends_nothing_to_wordpress_org(site: Site, page: Any) -> None:
    """The login page and the dashboard never wait on wordpress.org (its update, browser and PHP checks): with
    wordpress.org resolving to an address whose packets are dropped, not one packet leaves for it."""
    blackhole = "192.0.2.10"  # TEST-NET-1: never routed
    hosts = " ".join(["api.wordpress.org", "wordpress.org", "planet.wordpress.org", "downloads.wordpress.org"])
    rule = f"OUTPUT -d {blackhole}/32 -j DROP"
    saved = "/etc/hosts.before-test"  # /etc/hosts is bind-mounted into the lab host: written in place, never replaced
    try:
        site.sudo(f"cp /etc/hosts {saved} && echo '{blackhole} {hosts}' >> /etc/hosts && iptables -I {rule}")
        log_in(page, site)
        page.goto(f"{site.url}/wp-admin/index.php")
        assert page.locator("#wpadminbar").count() == 1
        counters = site.sudo(f"iptables -L OUTPUT -v -n -x | grep -F ' {blackhole} '")
        packets = int(counters.split()[0])
        assert packets == 0, f"WordPress sent {packets} packet(s) to wordpress.org: {counters}"
    finally:
        site.sudo(
            f"while iptables -D {rule} 2>/dev/null; do :; done; "
            f"if [ -f {saved} ]; then cat {saved} > /etc/hosts && rm {saved}; fi"
        )


def test_staff_see_pending_and_relayed_submissions_in_the_admin(site: Site, page: Any) -> None:
    """An administrator logs in and finds a new booking under Intake, as pending or (once the relay sent it) relayed."""
    reference = book(page, site, "Listed Client").locator(".mc-reference").inner_text()
    log_in(page, site)
    # Pending first, then relayed: a booking the relay's timer sends in between shows in the second list.
    page.goto(f"{site.url}/wp-admin/admin.php?page=mc-intake&mc_status=pending")
    assert page.locator("h1", has_text="Intake submissions").count() == 1
    listed = page.locator("tr.mc-status-pending", has_text=reference).count()
    assert page.locator("tr:not(.mc-status-pending)", has_text="MC-").count() == 0
    page.goto(f"{site.url}/wp-admin/admin.php?page=mc-intake&mc_status=relayed")
    listed += page.locator("tr.mc-status-relayed", has_text=reference).count()
    assert page.locator("tr.mc-status-pending").count() == 0
    assert listed >= 1


def test_bad_input_is_refused_next_to_the_field_and_nothing_is_stored(site: Site, page: Any) -> None:
    """An invalid email address and a missing consent are named next to their fields; no row is added."""
    before = site.sql(COUNT)[0][0]
    book(page, site, "Careless Client", email="not-an-address", consent=False)
    assert "/book/" in page.url
    assert "valid email address" in page.locator("#mc_email-error").inner_text()
    assert "agree" in page.locator("#mc_consent-error").inner_text()
    assert page.locator("#mc_name").input_value() == "Careless Client"
    assert site.sql(COUNT)[0][0] == before


def test_submissions_reach_the_lead_intake_api_exactly_once_even_when_it_was_down(site: Site, page: Any) -> None:
    """With the API up a booking arrives once (a resend is a replay); with it down it waits, then arrives once."""
    if site.api_in_lab:
        relay_through_the_lab_proxy(site, page)
    else:
        relay_to_an_api_on_this_machine(site, page)


def relay_through_the_lab_proxy(site: Site, page: Any) -> None:
    """The relay as WP_02 configured it: the lab's lead-intake API (PLAT_04) behind its reverse proxy (PLAT_06)."""
    reference = book(page, site, "Relayed Client").locator(".mc-reference").inner_text()
    eventually(lambda: relayed_after_a_run(site, reference))
    leads = site.leads(reference)
    assert leads == [stored(site, reference)["lead_id"]]
    # A crash between the API's answer and the relay's bookkeeping: the resend must be a replay of the same lead.
    site.sql(
        f"UPDATE {TABLE} SET status='pending', next_attempt_at=UTC_TIMESTAMP() "  # noqa: S608
        f"WHERE reference='{reference}'"
    )
    site.relay_once()
    assert stored(site, reference)["status"] == "relayed"
    assert site.leads(reference) == leads

    site.stop_api()
    try:
        waiting = book(page, site, "Patient Client").locator(".mc-reference").inner_text()
        site.relay_once()
        row = stored(site, waiting)
        assert row["status"] == "pending"
        assert int(row["attempts"]) >= 1
        assert row["error"].startswith(("no answer", "HTTP 502", "HTTP 503", "HTTP 504")), row["error"]
        assert site.leads(waiting) == []
    finally:
        site.start_api()
    # The relay's own backoff and timer, unchanged: the submission arrives once the API is back.
    eventually(lambda: relayed_after_a_run(site, waiting), timeout=240)
    assert site.leads(waiting) == [stored(site, waiting)["lead_id"]]
    assert site.leads(reference) == leads


def relay_to_an_api_on_this_machine(site: Site, page: Any) -> None:
    """Without PLAT_04/PLAT_06 in the lab: the real lead-intake API, served from this machine, stands in for them."""
    import psycopg
    from lead_intake.app import create_app
    from lead_intake.migrate import migrate
    from lead_intake.settings import Settings
    from motorcade_service_testing import contract_cluster
    from pydantic import SecretStr

    with contract_cluster() as cluster:
        settings = Settings(
            environment="production",
            db_host=cluster.host,
            db_port=cluster.port,
            db_password=SecretStr(cluster.passwords["lead_intake_app"]),
            migration_db_password=SecretStr(cluster.passwords["motorcade_owner"]),
            db_pool_min_size=1,
            db_pool_max_size=2,
            forwarded_allow_ips="127.0.0.1",
        )
        migrate(settings.migration_conninfo())
        port = free_port()

        def leads_with(reference: str) -> int:
            with psycopg.connect(settings.migration_conninfo()) as conn:
                query = "SELECT count(*) FROM leads.leads WHERE idempotency_key = %s"
                row = conn.execute(query, (reference,)).fetchone()
                return int(row[0]) if row else 0

        site.set_relay(base_url=f"http://{site.gateway()}:{port}", timeout_seconds=5, ca_file="")
        try:
            with serve_everywhere(create_app(settings), port):
                reference = book(page, site, "Relayed Client").locator(".mc-reference").inner_text()
                eventually(lambda: relayed_after_a_run(site, reference))
                assert leads_with(reference) == 1
                # A crash between the API's answer and the relay's bookkeeping: the resend must be a replay.
                site.sql(
                    f"UPDATE {TABLE} SET status='pending', next_attempt_at=UTC_TIMESTAMP() "  # noqa: S608
                    f"WHERE reference='{reference}'"
                )
                site.relay_once()
                eventually(lambda: stored(site, reference)["status"] == "relayed")
                assert leads_with(reference) == 1

            waiting = book(page, site, "Patient Client").locator(".mc-reference").inner_text()
            site.relay_once()
            row = stored(site, waiting)
            assert row["status"] == "pending"
            assert int(row["attempts"]) >= 1
            assert row["error"].startswith("no answer")
            assert leads_with(waiting) == 0

            with serve_everywhere(create_app(settings), port):
                eventually(lambda: relayed_after_a_run(site, waiting))
                assert leads_with(waiting) == 1
                assert leads_with(reference) == 1
        finally:
            site.restore_relay()
