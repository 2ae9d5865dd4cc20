"""The relay's HTTP call fails softly: every failure becomes an answer the policy can classify."""

from __future__ import annotations

from pathlib import Path

from intake_relay.client import post_lead
from intake_relay.policy import Outcome, classify


def test_a_missing_ca_file_is_no_answer_so_the_submission_waits(tmp_path: Path) -> None:
    """Before the proxy exports its CA, a post is retried later instead of ending the relay run with a traceback."""
    missing = tmp_path / "internal-root.crt"
    answer = post_lead("https://localhost:1/api", "{}", "MC-AAAA-AAAA", 1.0, str(missing))
    assert answer.status is None
    assert answer.reason.startswith("no answer: FileNotFoundError")
    assert classify(answer.status) is Outcome.RETRY


def test_a_url_that_is_not_http_is_no_answer() -> None:
    """A mistyped base URL keeps the submission pending with the reason, and nothing is sent."""
    answer = post_lead("ftp://example.org", "{}", "MC-AAAA-AAAA", 1.0)
    assert answer.status is None
    assert "not an http(s) URL" in answer.reason
