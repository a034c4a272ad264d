"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis), against a real gunicorn
server on SQLite and on PostgreSQL, with real tokens and a seeded world so that path ids exist.

Every operation gets valid (positive) and invalid (negative) requests; for each answer: never a 5xx, the status is
documented, the content type and headers are the documented ones and the body conforms to the documented schema.
``FUZZ_EXAMPLES`` sets the examples per operation and mode (default 8, about a minute per store); ``FUZZ_SEED`` the
seed (the same seed generates the same cases).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from api import testing as t
from tests.fuzz.conftest import Server

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
SEED = int(os.environ.get("FUZZ_SEED", "20240601"))
CHECKS = [st_checks.not_a_server_error, st_checks.status_code_conformance, st_checks.content_type_conformance,
          st_checks.response_schema_conformance, st_checks.response_headers_conformance]
# gunicorn itself refuses request lines over 4094 bytes and headers over its limits (414, 431, 400) with an HTML
# page, before the application sees the request; such answers are the front server's, not the API's.
FRONT_SERVER_REFUSALS = {400, 414, 431}
AUDITOR_PATHS = ("/api/v1/events", "/api/v1/verify", "/api/v1/audit/projections")


def role_for(method: str, path: str) -> str:
    """The role whose token may call the operation (tokens are nationwide, so every seeded id is in scope)."""
    if path == "/api/v1/tokens":
        return "admin"
    if path in AUDITOR_PATHS or (method == "POST" and path.startswith("/api/v1/audit/")):
        return "auditor"
    return "officer"


def valid_bodies(server: Server) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Bodies the ledger accepts for the seeded world, per write operation: generated bodies are nearly always
    refused by the ledger's own checks (region codes, USCC check characters, budget lines), so these reach 201."""
    fund, project = server.ids["fund_id"][2], server.ids["project_id"][0]
    return {
        ("POST", "/api/v1/funds"): [t.appropriation(document_no=f"FUZZ-{n}") for n in range(3)],
        ("POST", "/api/v1/funds/{fund_id}/allocations"): [t.allocation_to_project(project, "1.00")],
        ("POST", "/api/v1/projects"): [t.registration(code=f"FUZZ-{n}") for n in range(3)],
        ("POST", "/api/v1/projects/{project_id}/procurements"): [t.procurement()],
        ("POST", "/api/v1/projects/{project_id}/disbursements"): [t.disbursement(fund, "1.00")],
        ("POST", "/api/v1/projects/{project_id}/expenditures"): [t.expenditure("1.00", invoice_no=f"FZ-{n}")
                                                                 for n in range(3)],
        ("POST", "/api/v1/projects/{project_id}/outputs"): [
            {"month": "2024-03", "values": {"cases": 2}, "effective_on": "2024-04-02"}],
        ("POST", "/api/v1/checks/expenditures"): [{**t.expenditure("1.00"), "project_id": project}],
    }


def _with_seeded_ids(operation: Any, mode: GenerationMode, server: Server) -> st.SearchStrategy[Any]:
    """Many cases put ids of the seeded world into the path (else nearly every case would be a 404), and valid
    requests of the write operations send bodies the ledger accepts now and then."""
    names = [p.name for p in operation.path_parameters]
    strategies = [operation.as_strategy(generation_mode=mode)]
    seeded = st.fixed_dictionaries({n: st.sampled_from(server.ids[n]) for n in names}) \
        if names and all(server.ids.get(n) for n in names) else None
    if seeded is not None:
        strategies.append(seeded.flatmap(lambda ids: operation.as_strategy(generation_mode=mode, path_parameters=ids)))
    bodies = valid_bodies(server).get((operation.method.upper(), operation.path)) if mode.is_positive else None
    if bodies:
        ids = seeded if seeded is not None else st.just(None)
        strategies.append(st.tuples(ids, st.sampled_from(bodies)).flatmap(
            lambda pair: operation.as_strategy(generation_mode=mode, path_parameters=pair[0], body=pair[1])))
    return st.one_of(*strategies)


def fuzz_operation(operation: Any, mode: GenerationMode, server: Server, examples: int,
                   statuses: Counter[int], positive: Counter[int]) -> None:
    headers = server.auth(role_for(operation.method.upper(), operation.path))
    session = requests.Session()

    @seed(SEED)
    @given(case=_with_seeded_ids(operation, mode, server))
    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        # the real token of the role, never a generated Authorization (authorisation has its own tests)
        case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        response = case.call(base_url=server.base, session=session, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        if mode.is_positive:
            positive[response.status_code] += 1
        if response.status_code in FRONT_SERVER_REFUSALS and "x-request-id" not in response.headers:
            return
        case.validate_response(response, checks=CHECKS)

    run()


def test_every_operation_answers_as_documented_under_fuzzing(server: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{server.base}/api/v1/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    positive: Counter[int] = Counter()  # the answers to valid requests alone
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(operation, mode, server, EXAMPLES, statuses, positive)
            except (Exception, BaseExceptionGroup) as failure:  # every operation's failures, not just the first
                failures.append(f"{operation.method.upper()} {operation.path} [{mode.value}]: {str(failure)[:3000]}")
    print(f"fuzzed {len(operations)} operations with {sum(statuses.values())} requests; statuses "
          f"{dict(sorted(statuses.items()))}; to valid requests {dict(sorted(positive.items()))}")
    assert not failures, "\n\n".join(failures) + "\n\nserver log:\n" + server.log_tail()
    # the seeded ids and documented headers let valid requests through: reads answer and writes are recorded
    assert positive[200] >= 10 and positive[201] >= 5, positive
    assert positive[401] == 0, positive  # every valid request carried its role's real token
