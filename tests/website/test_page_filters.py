"""Unit tests of the wordpress_pages filters that decide whether a page must be created or updated."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "ansible" / "roles" / "wordpress_pages" / "filter_plugins" / "wordpress_pages.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wordpress_pages_filters", PLUGIN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DECLARED = {"slug": "airport-transfers", "title": "Airport transfers", "order": 2, "content": "<p>Terminals.</p>\n"}


def current(**changes: object) -> dict[str, object]:
    page: dict[str, object] = {
        "title": {"raw": "Airport transfers"},
        "content": {"raw": "<p>Terminals.</p>"},
        "menu_order": 2,
        "status": "publish",
    }
    page.update(changes)
    return page


def test_the_body_trims_and_defaults_to_published() -> None:
    """The REST body carries the trimmed content, the order as menu_order and status publish by default."""
    body = load().wordpress_page_body(DECLARED)
    assert body == {
        "slug": "airport-transfers",
        "title": "Airport transfers",
        "content": "<p>Terminals.</p>",
        "menu_order": 2,
        "status": "publish",
    }


def test_an_identical_page_is_left_alone_and_any_managed_difference_updates_it() -> None:
    """Same title, content, order and status: no update; a change in any one of them: update."""
    differs = load().wordpress_page_differs
    assert not differs(current(), DECLARED)
    assert differs(current(title={"raw": "Airport runs"}), DECLARED)
    assert differs(current(content={"raw": "<p>Old.</p>"}), DECLARED)
    assert differs(current(menu_order=7), DECLARED)
    assert differs(current(status="draft"), DECLARED)
