"""Schemathesis against the live service's OpenAPI schema: no 5xx, responses match the schema."""

from __future__ import annotations

import pytest
from schemathesis import GenerationMode

from motorcade_service_testing.schema import schema_failures
from people_helpers import auth


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(base_url: str, staff_key: str, mode: GenerationMode) -> None:
    """Generated valid and invalid requests with a staff key never get a 5xx nor a response outside the schema."""
    failures = schema_failures(base_url, auth(staff_key), mode, min_operations=5)
    assert not failures, "\n\n".join(failures)
