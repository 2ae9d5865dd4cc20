"""Schemathesis against the live service's OpenAPI schema: no 5xx, responses match the schema."""

from __future__ import annotations

from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from people_helpers import auth


def negative_data_rejected(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """Schemathesis' negative-data check, also counting 413 (an oversized body) as a rejection."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)  # type: ignore[no-any-return]


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_schema(base_url: str, staff_key: str, mode: GenerationMode) -> None:
    """Generated valid and invalid requests with a staff key never get a 5xx nor a response outside the schema."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checks = CHECKS + ([negative_data_rejected] if mode is GenerationMode.NEGATIVE else [])
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5

    for operation in operations:

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        def exercise(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth(staff_key), checks=checks)

        try:
            exercise()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be generated"
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
