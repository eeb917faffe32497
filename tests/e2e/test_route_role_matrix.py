"""Every operation of the OpenAPI document against every role, from one table.

Run in-process (FastAPI's TestClient on SQLite) for speed: authorisation does not
depend on the store or on the process. A refused role gets 403 problem+json; an
allowed one anything but 401 or 403; no token (or a wrong one) gets 401 with
`WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import pytest

from cases.api.app import create_app
from cases.settings import Settings
from tests.e2e._access import EXPECTED, ROLES, Operation, allowed_roles, operations
from tests.e2e._api import assert_problem
from tests.e2e._in_process import InProcessApi

# The document is built without starting the app (no store is opened).
DOCUMENT = create_app(Settings(database_url="sqlite:///unused.db")).openapi()
OPERATIONS = operations(DOCUMENT)


class TestTheTable:
    def test_names_every_operation_of_the_document(self) -> None:
        """A route added to the API must be added to EXPECTED, with its roles decided."""
        missing = sorted({op.operation_id for op in OPERATIONS} - EXPECTED.keys())
        assert missing == [], f"add these operations to tests/e2e/_access.py EXPECTED: {missing}"

    def test_names_no_operation_the_document_lacks(self) -> None:
        """An operation renamed or removed is taken out of EXPECTED too."""
        stale = sorted(EXPECTED.keys() - {op.operation_id for op in OPERATIONS})
        assert stale == []

    def test_operation_ids_are_unique(self) -> None:
        """Clients generate method names from operation ids: each is used once."""
        ids = [op.operation_id for op in OPERATIONS]
        assert len(ids) == len(set(ids))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
class TestEveryOperation:
    def test_each_role_is_let_through_or_refused_as_the_table_says(
        self, in_process: InProcessApi, operation: Operation
    ) -> None:
        """Allowed roles pass authorisation (any answer but 401/403); the others get
        403 problem+json of type forbidden."""
        if operation.operation_id not in EXPECTED:
            pytest.fail(f"{operation.operation_id} is not in EXPECTED")
        allowed = allowed_roles(operation.operation_id)
        wrong = {}
        for role in ROLES:
            response = in_process.call(operation, in_process.tokens[role])
            if allowed is None or role in allowed:
                if response.status_code in {401, 403}:
                    wrong[role] = (response.status_code, response.text)
            elif response.status_code != 403:
                wrong[role] = (response.status_code, response.text)
            else:
                assert_problem(response, 403, "forbidden")
        assert wrong == {}

    def test_without_a_valid_token_it_answers_401(
        self, in_process: InProcessApi, operation: Operation
    ) -> None:
        """No token, or one the service never issued, is 401 problem+json with
        `WWW-Authenticate: Bearer`; the public operations need none."""
        if allowed_roles(operation.operation_id) is None:
            assert in_process.call(operation, None).status_code not in {401, 403}
            return
        for token in (None, "cases_not-a-token-we-issued"):
            response = in_process.call(operation, token)
            assert_problem(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == "Bearer"
