"""Schemathesis against a live service's OpenAPI schema: every operation, valid and invalid requests."""

from __future__ import annotations

from typing import Any

import hypothesis
import hypothesis.errors
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


def negative_data_rejected(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' negative-data check, also counting 413 (an oversized body) as a rejection."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


def sent_as_generated(case: Any) -> bool:
    """Whether every generated query parameter goes on the wire. The HTTP client drops one whose value is None or an
    empty list or mapping: an unknown parameter made of one is never sent, the request that leaves is valid, and its
    2xx would be reported as invalid data accepted."""
    return not any(
        value is None or (isinstance(value, list | tuple | dict) and not value) for value in (case.query or {}).values()
    )


def schema_failures(base_url: str, headers: dict[str, str], mode: GenerationMode, min_operations: int) -> list[str]:
    """Every operation of ``base_url``'s ``/openapi.json`` called with generated requests of ``mode`` (and
    ``headers``): what failed — a 5xx, a status, content type or body outside the schema, and for invalid requests,
    one accepted. Raises AssertionError when the schema has fewer than ``min_operations`` operations, or no valid
    request can be generated for one. Derandomised, so a run is repeatable."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checks = CHECKS + ([negative_data_rejected] if mode is GenerationMode.NEGATIVE else [])
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    if len(operations) < min_operations:
        raise AssertionError(f"the schema has {len(operations)} operations, expected at least {min_operations}")
    failures: list[str] = []
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
        def exercise(case: Any) -> None:
            hypothesis.assume(mode is not GenerationMode.NEGATIVE or sent_as_generated(case))
            case.call_and_validate(headers=headers, checks=checks)

        try:
            exercise()
        except hypothesis.errors.Unsatisfiable:
            if mode is not GenerationMode.NEGATIVE:
                raise AssertionError(f"{operation.label}: no valid request could be generated") from None
        except Exception as error:  # each operation's failure is collected, the others still run
            failures.append(f"{operation.label}: {error}")
    return failures
