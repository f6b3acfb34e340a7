"""Property-based run of the HTTP API from its own OpenAPI document (schemathesis, in-process WSGI).

Every operation gets generated requests, valid and invalid; every response must
be a non-5xx that matches the documented status codes, content types and schemas.
The app runs in keys mode with one all-scope key, so the documented security is real.
"""

from __future__ import annotations

import os
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
# An over-long field can also make the body exceed the size limit: 413 is a rejection too.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]


@schema.auth()
class _ApiKey:
    """The key through schemathesis' auth hook, not a header override: a case generated without credentials
    (negative testing of the documented security) stays without them and must get its 401."""

    def get(self, case: schemathesis.Case, context: object) -> str:
        return KEY

    def set(self, case: schemathesis.Case, data: str, context: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


# Operations whose request contract still has a rule the document does not state: a schema-valid
# request there may get a documented 400, so only these skip positive_data_acceptance; every other
# operation runs every check. Item 12 (i14-copy) put price_min <= price_max, product xor product_id,
# non-empty product_ids and the results format into the schema; what schemathesis still finds:
# - POST /v1/recommend: an integral float k (8.0) is a JSON Schema integer; the server wants 8;
# - POST /v1/copy, POST /v1/copy/jobs: "give length or max_chars, not both" is not in the schema.
# Remove an entry once the schema or the server agrees.
CROSS_FIELD_RULES_PENDING: set[tuple[str, str]] = {
    ("POST", "/v1/recommend"),
    ("POST", "/v1/chat"),  # issue 15: the same filters (price_min <= price_max)
    ("POST", "/v1/copy"),
    ("POST", "/v1/copy/jobs"),
    ("GET", "/v1/copy/jobs/{job_id}/results"),
    # issue 16: these carry the same CopyOptions as /v1/copy (its length/max_chars rule and integral floats
    # such as "variants": 2.0, which strict parsing refuses); remove with /v1/copy's entry.
    ("POST", "/v1/studio/check"),
    ("POST", "/v1/studio/reviews"),
}


# About 40 cases per operation, ~400 in all: the CI run stays well under two minutes. The suite's run is
# derandomized (the same cases every time, so CI does not flake on a case no commit introduced); hunt for
# new ones with FUZZ_RANDOM=1 FUZZ_EXAMPLES=300 and keep what they find as tests.
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case) -> None:
    # Every check is on (not_a_server_error, status codes, content types, response schemas, ...) but
    # positive_data_acceptance on the operations above.
    pending = (case.operation.method.upper(), case.operation.path) in CROSS_FIELD_RULES_PENDING
    case.call_and_validate(excluded_checks=[positive_data_acceptance] if pending else [])
