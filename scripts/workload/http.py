"""The plan as HTTP requests: the request list (JSON lines, for a load generator or a replay) and a loader that
posts it to a running API, in order, with each posting's stable name as its Idempotency-Key (so a load interrupted
half-way can simply be run again: what was posted answers ``Idempotency-Replayed``).

A procurement's id is only known once it is opened, so the steps' paths name it by project,
``/procurements/{procurement of SGZ-...}/steps``; the loader fills in the id the opening answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

from scripts.workload.plan import Posting, ProcurementOf, Workload

PATHS = {
    "appropriate_fund": "/funds",
    "allocate_funds": "/funds/{target}/allocations",
    "recover_funds": "/funds/{target}/recoveries",
    "register_project": "/projects",
    "open_procurement": "/projects/{target}/procurements",
    "revise_budget": "/projects/{target}/budget-revisions",
    "disburse": "/projects/{target}/disbursements",
    "record_expenditure": "/projects/{target}/expenditures",
    "report_outputs": "/projects/{target}/outputs",
    "record_evaluation": "/projects/{target}/evaluations",
    "record_procurement_step": "/procurements/{target}/steps",
}


def placeholder(project_code: str) -> str:
    return f"{{procurement of {project_code}}}"


def _plain(value: Any, procurements: dict[str, str] | None) -> Any:
    if isinstance(value, ProcurementOf):
        return procurements[value.project_code] if procurements is not None else placeholder(value.project_code)
    if isinstance(value, dict):
        return {k: _plain(v, procurements) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, procurements) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def request_of(posting: Posting, procurements: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"method", "path", "key", "body"}`` of a posting (path relative to ``/api/v1``)."""
    target = "" if posting.target is None else _plain(posting.target, procurements)
    return {"method": "POST", "path": PATHS[posting.op].format(target=target), "key": posting.key,
            "body": _plain(posting.args, procurements)}


def write_requests(workload: Workload, out: IO[str]) -> int:
    """Writes the request list, one JSON object a line; returns how many."""
    count = 0
    for posting in workload.postings():
        out.write(json.dumps(request_of(posting), ensure_ascii=False) + "\n")
        count += 1
    return count


def load_http(base_url: str, token: str, workload: Workload, *, timeout: float = 30,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Posts the plan to ``base_url`` (e.g. http://127.0.0.1:8000/api/v1) in order; stops at the first refusal."""
    import requests

    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}"})
    procurements: dict[str, str] = {}
    started, count, replayed = time.perf_counter(), 0, 0
    chunks = list(workload.chunks())
    for done, chunk in enumerate(chunks, 1):
        for posting in chunk:
            request = request_of(posting, procurements)
            response = session.post(base_url.rstrip("/") + request["path"], json=request["body"], timeout=timeout,
                                    headers={"Idempotency-Key": request["key"]})
            if response.status_code != 201:
                raise RuntimeError(f"{request['path']} ({posting.key}) answered {response.status_code}: "
                                   f"{response.text[:500]}")
            if posting.op == "open_procurement":
                procurements[str(posting.project)] = response.json()["procurement_id"]
            replayed += response.headers.get("Idempotency-Replayed") == "true"
            count += 1
        if progress is not None:
            progress(done, len(chunks))
    seconds = time.perf_counter() - started
    return {"postings": count, "replayed": replayed, "seconds": round(seconds, 3),
            "postings_per_second": round(count / seconds) if seconds else 0}


def expenditure_bodies(project_ids: Iterable[UUID], year: int = 2023) -> Iterator[tuple[str, dict[str, Any]]]:
    """Valid expenditure bodies for load tests, one per project in turn (the load generator varies the invoice)."""
    for project_id in project_ids:
        yield (f"/projects/{project_id}/expenditures",
               {"line": "activities", "amount": "12.34", "payee_name": "便民超市", "payee_kind": "supplier",
                "effective_on": date(year, 11, 15).isoformat()})
