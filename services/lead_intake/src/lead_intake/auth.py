"""Staff API keys of the lead-intake API: ``mli_…``, stored in ``leads.api_keys`` (see ``motorcade_service.auth``)."""

from __future__ import annotations

from motorcade_service.auth import ApiKeys

API_KEYS = ApiKeys(
    schema="leads",
    prefix="mli_",
    scopes={
        "leads:read": "List and read leads and their history.",
        "leads:write": "Change a lead's status.",
    },
)
create_api_key = API_KEYS.create
revoke_api_key = API_KEYS.revoke
