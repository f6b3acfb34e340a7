"""Property-based run of the HTTP API from its own OpenAPI document (schemathesis, in-process WSGI).

Every operation gets generated requests, valid and invalid; every response must
be a non-5xx that matches the documented status codes, content types and schemas.
The app runs in keys mode with one all-scope key, so the documented security is real.
"""

from __future__ import annotations

import uuid

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.ops.auth import hash_key
from tests.support import small_shop
from tests.support.scripted_provider import ScriptedProvider

KEY = f"sg_fuzz_{uuid.uuid4().hex}"


def _app():  # noqa: ANN202
    return small_shop.app(
        small_shop.settings(
            api_keys=f"fuzz:{hash_key(KEY)}:recommend+copy+ops",
            rate_limit="off",  # thousands of generated requests; limits have their own tests
            log_level="WARNING",
        ),
        ScriptedProvider(),
    )


# Loaded eagerly: schemathesis' lazy fixture loader uses a pytest private attribute that pytest 9 removed.
schema = schemathesis.openapi.from_wsgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    # positive_data_acceptance is off: the request contract has rules JSON Schema cannot state
    # (price_min <= price_max, a query that is not only whitespace), answered with a documented 400.
    # Every other check stays on, including not_a_server_error and response schema conformance.
    case.call_and_validate(headers={"Authorization": f"Bearer {KEY}"}, excluded_checks=[positive_data_acceptance])
