"""Staff API keys of the people API: ``mpp_…``, stored in ``people.api_keys`` (see ``motorcade_service.auth``)."""

from __future__ import annotations

from motorcade_service.auth import ApiKeys

API_KEYS = ApiKeys(
    schema="people",
    prefix="mpp_",
    scopes={
        "people:read": "Search and read people.",
        "people:write": "Create, change and delete people; convert leads into people.",
    },
)
create_api_key = API_KEYS.create
revoke_api_key = API_KEYS.revoke
