"""Filters comparing a page declared in the inventory with the one WordPress's REST API returns (context=edit)."""

from __future__ import annotations

from typing import Any


def wordpress_page_body(page: dict[str, Any]) -> dict[str, Any]:
    """The REST API body that makes WordPress's page match the declared `page`."""
    return {
        "slug": str(page["slug"]),
        "title": str(page["title"]).strip(),
        "content": str(page.get("content", "")).strip(),
        "menu_order": int(page.get("order", 0)),
        "status": str(page.get("status", "publish")),
    }


def wordpress_page_differs(current: dict[str, Any], page: dict[str, Any]) -> bool:
    """Whether WordPress's page (`current`, context=edit) differs from the declared `page` in what we manage."""
    wanted = wordpress_page_body(page)
    return (
        str(current.get("title", {}).get("raw", "")).strip() != wanted["title"]
        or str(current.get("content", {}).get("raw", "")).strip() != wanted["content"]
        or int(current.get("menu_order", 0)) != wanted["menu_order"]
        or str(current.get("status", "")) != wanted["status"]
    )


class FilterModule:
    """Ansible's entry point for the filters above."""

    def filters(self) -> dict[str, Any]:
        return {"wordpress_page_body": wordpress_page_body, "wordpress_page_differs": wordpress_page_differs}
