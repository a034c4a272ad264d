"""Crash and fault harness: the real API server (`ledger serve`, gunicorn) and the projection worker
(`ledger projections run`) as separate processes, a posting load from client threads with Idempotency-Keys, kill -9
at seeded random points, a TCP proxy that cuts the way to PostgreSQL, and the checks that nothing acknowledged is
lost, nothing is posted twice or half-written, retries answer the original result and the views equal a rebuild.

    python -m scripts.crashtest --store sqlite --seconds 60 --seed 7
    python -m scripts.crashtest --store postgres --seconds 300 --dsn postgresql://postgres@127.0.0.1:5432/postgres

Used by tests/reliability (short runs) and scripts/soak.py. Loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from api.config import load_config, read_side_env
from api.serving import free_port
from ledger.access import issue_token
from ledger.application import LedgerApplication
from projections.database import Database, database_from_env
from projections.store import CACHES, TABLES, ViewStore

CLI = [sys.executable, "-c", "from api.cli import main; main()"]
OFFICER_SCOPE = "130102"
TOWNSHIP = "130102001"
FUND_AMOUNT = "900000000000.00"
PROJECT_RECEIVES = "1000000000.00"
REQUEST_TIMEOUT = 20.0
# Which event of the log carries a posting's id, by the kind of request that made it.
ID_FIELD = {"expenditure": "entry_id", "disbursement": "entry_id", "allocation": "allocation_id"}
POSTING_TOPICS = {
    "ledger:Project.ExpenditureRecorded": ("expenditure", "entry_id"),
    "ledger:Project.Disbursed": ("disbursement", "entry_id"),
    "ledger:Fund.Allocated": ("allocation", "allocation_id"),
    "ledger:Project.FundsReceived": ("allocation-received", "allocation_id"),
}


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (gunicorn's workers of its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- the processes ----------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """`ledger serve` and `ledger projections run` on one store, started, killed and restarted at will."""

    env: dict[str, str]
    workdir: Path
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    server: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    server_starts: int = 0
    worker_starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _log(self, name: str) -> Any:
        return (self.workdir / f"{name}.log").open("ab")

    def _environ(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start_server(self, wait: bool = True) -> None:
        self.server_starts += 1
        with self._log("server") as log:
            self.server = subprocess.Popen(
                [*CLI, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                 "--threads", str(self.threads)],
                env=self._environ(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()

    def start_worker(self) -> None:
        self.worker_starts += 1
        with self._log("worker") as log:
            self.worker = subprocess.Popen([*CLI, "projections", "run", "--poll", "0.1"], env=self._environ(),
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> None:
        self.start_server()
        self.start_worker()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            if self.server is None or self.server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log_tail('server')}")
            time.sleep(0.1)

    def log_tail(self, name: str, size: int = 4000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def kill_server(self) -> None:
        """kill -9 of the gunicorn master and every worker at once: the whole server dies mid-request."""
        self._kill_group(self.server)

    def kill_one_server_worker(self, rng: random.Random) -> bool:
        """kill -9 of one gunicorn worker; its master starts another."""
        if self.server is None:
            return False
        pids = children(self.server.pid)
        if not pids:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(rng.choice(sorted(pids)), signal.SIGKILL)
        return True

    def kill_worker(self) -> None:
        self._kill_group(self.worker)

    def server_pids(self) -> list[int]:
        return [] if self.server is None else [self.server.pid, *children(self.server.pid)]

    def rss(self) -> tuple[int, int, int]:
        """(server total, largest server worker, projection worker) resident bytes."""
        pids = self.server_pids()
        workers = [rss_bytes(p) for p in pids[1:]]
        return (sum(rss_bytes(p) for p in pids), max(workers, default=0),
                rss_bytes(self.worker.pid) if self.worker is not None else 0)

    def stop(self) -> None:
        for process in (self.worker, self.server):
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._kill_group(process)

    def run_cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], env=self._environ(), capture_output=True, text=True, timeout=timeout,
                              check=False)


def stack_env(store_env: dict[str, str], workdir: Path, **extra: str) -> dict[str, str]:
    """The server's and worker's environment on a store: the worker runs as its own process."""
    return {"LEDGER_DATA_DIR": str(workdir), "LEDGER_PROJECTIONS": "external", "LEDGER_LOG_LEVEL": "WARNING",
            "LEDGER_TOKEN_CACHE_SECONDS": "30", "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            **store_env, **extra}


# -- a TCP proxy between the app and PostgreSQL, to cut and restore --------------------------------------------------


class Proxy:
    """Forwards 127.0.0.1:<port> to the database. ``cut()`` closes every forwarded connection and resets new ones
    (the database is unreachable); ``restore()`` forwards again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = True
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = False
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _reset(sock: socket.socket) -> None:
        """Resets the connection (shutdown first: a close alone would not wake a thread blocked reading it)."""
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def upstream_ports(self) -> list[int]:
        """Local ports of the connections to the database: PostgreSQL sees them as the backends' client_port."""
        ports = []
        with self._lock:
            for _, upstream in self._pairs:
                with contextlib.suppress(OSError):
                    ports.append(int(upstream.getsockname()[1]))
        return ports

    def cut(self) -> None:
        self.up = False
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for client, upstream in pairs:
            self._reset(client)
            self._reset(upstream)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()


def terminate_backends(dsn: str, client_ports: list[int]) -> int:
    """pg_terminate_backend of the backends of ``dsn``'s own database that serve the given client ports."""
    import psycopg

    if not client_ports:
        return 0
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND client_addr = '127.0.0.1' AND client_port = ANY(%s)",
            (client_ports,)).fetchall()
    return sum(1 for (done,) in rows if done)


# -- the load ---------------------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the load posts against: tokens, one large fund, projects that received money from it."""

    officer: str
    auditor: str
    fund_id: str
    projects: list[str]


def prepare(stack: Stack, store_env: dict[str, str], projects: int = 12) -> Ledger:
    """Issues tokens straight into the store, then makes a fund and projects through the API."""
    app = LedgerApplication(env=store_env)
    try:
        officer, _ = issue_token(app, actor_name="长安区民政局财务", role="officer", scope=OFFICER_SCOPE,
                                 issued_by="crashtest")
        auditor, _ = issue_token(app, actor_name="省审计组", role="auditor", scope="", issued_by="crashtest")
    finally:
        app.close()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {officer}"
    api = f"{stack.base}/api/v1"

    def post(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        for _ in range(60):
            try:
                response = session.post(api + path, json=body, headers={"Idempotency-Key": key}, timeout=30)
            except requests.RequestException:
                time.sleep(0.5)
                continue
            if response.status_code == 201:
                return dict(response.json())
            if response.status_code != 503:
                raise RuntimeError(f"setup {path}: {response.status_code} {response.text[:500]}")
            time.sleep(0.5)
        raise RuntimeError(f"setup {path}: no answer")

    fund = post("/funds", _appropriation(), "setup-fund")
    ids = []
    for n in range(projects):
        made = post("/projects", _registration(n), f"setup-project-{n}")
        ids.append(made["project_id"])
        post(f"/funds/{fund['fund_id']}/allocations", {"target_kind": "project", "project_id": made["project_id"],
                                                       "amount": PROJECT_RECEIVES, "effective_on": "2024-03-01"},
             f"setup-allocation-{n}")
    return Ledger(officer, auditor, fund["fund_id"], ids)


def _appropriation() -> dict[str, Any]:
    return {"holder_region": OFFICER_SCOPE, "fiscal_year": 2024, "document_no": "长财社〔2024〕77号",
            "source_level": "province", "purpose": "乡镇(街道)社工站建设运营",
            "allowed_categories": ["staff", "activities", "training", "supervision", "management"],
            "service_domains": ["elderly_care", "child_welfare", "social_assistance"], "valid_from": "2024-01-01",
            "valid_to": "2024-12-31", "amount": FUND_AMOUNT, "effective_on": "2024-01-10"}


def _registration(n: int) -> dict[str, Any]:
    return {"code": f"CRASH-{n:03d}", "name": f"建北街道社工站运营项目{n}", "township_code": TOWNSHIP,
            "station_name": "建北街道社会工作服务站", "service_domains": ["elderly_care"],
            "period_start": "2024-03-01", "period_end": "2025-02-28",
            "budget_lines": {"staff": "120000.00", "activities": "50000.00", "training": "20000.00",
                             "management": "10000.00"},
            "effective_on": "2024-02-20", "provider_name": "石家庄市长安区启航社会工作服务中心",
            "provider_uscc": "91110000600037341L",
            "monthly_plan": [{"month": "2024-12", "cumulative_amount": "200000.00"}]}


@dataclass
class Request:
    key: str
    kind: str
    path: str
    body: dict[str, Any]
    answers: list[str] = field(default_factory=list)  # "201", "201r" (replayed), "503", "conn", "timeout", ...
    ack: dict[str, Any] | None = None

    @property
    def posting_id(self) -> str | None:
        return None if self.ack is None else str(self.ack[ID_FIELD[self.kind]])


def make_request(ledger: Ledger, rng: random.Random, key: str) -> Request:
    project = rng.choice(ledger.projects)
    draw = rng.random()
    day = f"2024-{rng.randint(3, 12):02d}-{rng.randint(1, 28):02d}"
    if draw < 0.15:
        return Request(key, "allocation", f"/funds/{ledger.fund_id}/allocations",
                       {"target_kind": "project", "project_id": project, "amount": f"{rng.randint(1, 900)}.00",
                        "effective_on": day})
    if draw < 0.3:
        return Request(key, "disbursement", f"/projects/{project}/disbursements",
                       {"fund_id": ledger.fund_id, "amount": f"{rng.randint(1, 500)}.50",
                        "payee_name": "石家庄市长安区启航社会工作服务中心", "payee_uscc": "91110000600037341L",
                        "effective_on": day})
    line = rng.choice(["staff", "activities", "training", "management", "equipment"])
    return Request(key, "expenditure", f"/projects/{project}/expenditures",
                   {"line": line, "amount": f"{rng.randint(1, 3000)}.{rng.randint(0, 99):02d}",
                    "payee_name": "长安区某文具店", "payee_kind": "supplier", "invoice_no": f"FP-{key}",
                    "effective_on": day, "description": "社区活动物料"})


class Pacer:
    """Spaces out new requests to a total rate (None: as fast as the clients go)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        with self._lock:
            slot = max(self._next, time.monotonic())
            self._next = slot + self.interval
        stop.wait(max(0.0, slot - time.monotonic()))


@dataclass
class Load:
    """Client threads posting with Idempotency-Keys; each retries its request (same key) until it is answered."""

    base: str
    ledger: Ledger
    clients: int = 8
    seed: int = 1
    rate: float | None = None
    retry_for: float = 90.0  # how long a client keeps retrying one request through crashes and outages
    prefix: str = "load"
    requests: list[Request] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        pacer = Pacer(self.rate)
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number, pacer), name=f"client-{number}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def finish(self, timeout: float = 180.0) -> None:
        self.stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            raise RuntimeError("clients did not finish")

    def _client(self, number: int, pacer: Pacer) -> None:
        rng = random.Random(f"{self.seed}-{number}")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.ledger.officer}"
        n = 0
        while not self.stop.is_set():
            pacer.wait(self.stop)
            if self.stop.is_set():
                return
            request = make_request(self.ledger, rng, f"{self.prefix}-{self.seed}-c{number}-{n}")
            n += 1
            with self._lock:
                self.requests.append(request)
            self.send(session, request, retry_for=self.retry_for)

    def send(self, session: requests.Session, request: Request, retry_for: float) -> None:
        """Sends until a final answer (2xx or 4xx) or ``retry_for`` seconds; records every answer."""
        deadline = time.monotonic() + retry_for
        pause = 0.05
        while True:
            answer = self._post(session, request)
            with self._lock:
                request.answers.append(answer)
                self.statuses[answer] += 1
            if answer[0] in "24" or time.monotonic() > deadline:
                return
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _post(self, session: requests.Session, request: Request) -> str:
        try:
            response = session.post(f"{self.base}/api/v1{request.path}", json=request.body,
                                    headers={"Idempotency-Key": request.key}, timeout=REQUEST_TIMEOUT)
        except requests.Timeout:
            return "timeout"
        except requests.RequestException:
            return "conn"
        status = response.status_code
        if status == 201:
            body = response.json()
            replayed = response.headers.get("Idempotency-Replayed") == "true"
            if request.ack is None:
                request.ack = body
            elif _summary(body) != _summary(request.ack):
                self.problems.append(f"{request.key}: answered {_summary(body)} after {_summary(request.ack)}")
            return "201r" if replayed else "201"
        if status >= 500:
            if response.headers.get("Content-Type", "").split(";")[0] != "application/problem+json":
                self.problems.append(f"{request.key}: {status} not problem+json: {response.text[:200]}")
            if status == 503 and not response.headers.get("Retry-After"):
                self.problems.append(f"{request.key}: 503 without Retry-After")
        return str(status)

    def acknowledged(self) -> list[Request]:
        return [r for r in self.requests if r.ack is not None]


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body.get(k) for k in ("entry_id", "allocation_id", "version", "position")}


# -- the checks -------------------------------------------------------------------------------------------------------


@dataclass
class LogFacts:
    head: int
    postings: dict[str, Counter[str]]  # kind -> posting id -> events carrying it
    records: dict[str, dict[str, Any]]  # idempotency key (this actor) -> result


def read_log(store_env: dict[str, str], actor: str = "长安区民政局财务") -> LogFacts:
    app = LedgerApplication(env=store_env)
    try:
        postings: dict[str, Counter[str]] = {kind: Counter() for kind, _ in POSTING_TOPICS.values()}
        records: dict[str, dict[str, Any]] = {}
        position = 0
        while batch := app.recorder.select_notifications(start=position, limit=1000, inclusive_of_start=False):
            for notification in batch:
                position = notification.id
                if notification.topic in POSTING_TOPICS:
                    kind, name = POSTING_TOPICS[notification.topic]
                    postings[kind][str(getattr(app.mapper.to_domain_event(notification), name))] += 1
                elif notification.topic == "ledger:IdempotencyRecord.Recorded":
                    event = app.mapper.to_domain_event(notification)
                    if event.actor == actor:
                        if event.key in records:
                            raise AssertionError(f"two idempotency records for key {event.key}")
                        records[event.key] = dict(event.result)
        return LogFacts(position, postings, records)
    finally:
        app.close()


def check_log(facts: LogFacts, load: Load, other_prefixes: tuple[str, ...] = ("setup-",)) -> dict[str, int]:
    """Every acknowledged posting is in the log exactly once; every posting is whole (its events and its idempotency
    record, or neither); nothing is posted twice. Keys starting with ``other_prefixes`` belong to requests of other
    loads (the setup). Returns counts; raises AssertionError."""
    failures: list[str] = []
    for kind, counter in facts.postings.items():
        twice = [i for i, n in counter.items() if n != 1]
        if twice:
            failures.append(f"{kind}: ids recorded more than once: {twice[:5]}")
    acked = load.acknowledged()
    lost = duplicated = 0
    for request in acked:
        count = facts.postings[request.kind][str(request.posting_id)]
        if count == 0:
            lost += 1
            failures.append(f"acknowledged {request.key} ({request.kind} {request.posting_id}) is not in the log")
        elif count > 1:
            duplicated += 1
        record = facts.records.get(request.key)
        if record is None or str(record.get(ID_FIELD[request.kind])) != request.posting_id:
            failures.append(f"acknowledged {request.key} has no matching idempotency record: {record}")
    # Whole saves: each posting has its idempotency record, each record of the load its posting(s).
    ids_of_records: dict[str, str] = {}
    for key, result in facts.records.items():
        posting = next((result[k] for k in ("allocation_id", "entry_id") if k in result), None)
        if posting is not None:
            ids_of_records[str(posting)] = key
        elif not key.startswith(other_prefixes):
            failures.append(f"idempotency record {key} names no posting: {result}")
    load_keys = {r.key for r in load.requests}
    for kind, counter in facts.postings.items():
        for posting_id in counter:
            if posting_id not in ids_of_records:
                failures.append(f"{kind} {posting_id} has no idempotency record: a half-written save")
    for posting_id, key in ids_of_records.items():
        kinds = [k for k, c in facts.postings.items() if posting_id in c]
        expected = 2 if kinds and kinds[0].startswith("allocation") else 1
        if len(kinds) != expected:
            failures.append(f"idempotency record {key} without its whole posting (found in {kinds})")
        if key not in load_keys and not key.startswith(other_prefixes):
            failures.append(f"idempotency record {key} is no request of the load")
    if failures:
        raise AssertionError(f"{len(failures)} log problems:\n" + "\n".join(failures[:30]))
    return {"acknowledged": len(acked), "lost": lost, "duplicated": duplicated,
            "postings": sum(1 for key in ids_of_records.values() if not key.startswith(other_prefixes)),
            "head": facts.head}


def retry_all(load: Load) -> dict[str, int]:
    """Sends every request of the load again with its key: an acknowledged one must answer its original result,
    replayed; one never acknowledged is posted now (or replayed if its first attempt was committed unanswered)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {load.ledger.officer}"
    counts: Counter[str] = Counter()
    failures = []
    for request in list(load.requests):
        original = None if request.ack is None else _summary(request.ack)
        response = None
        for _ in range(20):
            try:
                response = session.post(f"{load.base}/api/v1{request.path}", json=request.body,
                                        headers={"Idempotency-Key": request.key}, timeout=REQUEST_TIMEOUT)
            except requests.RequestException:
                time.sleep(0.5)
                continue
            if response.status_code != 503:
                break
            time.sleep(0.5)
        if response is None or response.status_code != 201:
            failures.append(f"{request.key}: retry answered {None if response is None else response.status_code}")
            continue
        replayed = response.headers.get("Idempotency-Replayed") == "true"
        if original is not None:
            counts["acknowledged replayed"] += 1
            if not replayed or _summary(response.json()) != original:
                failures.append(f"{request.key}: retry answered {_summary(response.json())} (replayed={replayed}), "
                                f"first {original}")
        else:
            counts["unacknowledged, found committed" if replayed else "unacknowledged, posted now"] += 1
            request.ack = response.json()
    if failures:
        raise AssertionError(f"{len(failures)} retries went wrong:\n" + "\n".join(failures[:30]))
    return dict(counts)


# Finding columns that record when the worker saw a change (the end of the batch it was in), not a ledger fact: a
# rebuild cuts the log into other batches. Retracted findings are left out for the same reason (one that appeared and
# vanished inside one batch never gets a row).
BOOKKEEPING = ("first_position", "updated_position", "retracted_position", "retracted_on")


def rebuildable(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """What a rebuild must reproduce exactly: every row of every table, and the live findings without bookkeeping."""
    findings = sorted(({k: v for k, v in r.items() if k not in BOOKKEEPING}
                       for r in rows["findings"] if r["retracted_position"] is None), key=lambda r: r["finding_id"])
    return {**{name: table for name, table in rows.items() if name != "findings"}, "findings": findings}


def view_rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the live generation, in key order."""
    store = ViewStore(db)
    with db.transaction(write=False) as cursor:
        generation = store.generation(cursor)
        rows = {}
        for name in TABLES:
            cursor.execute(f"SELECT * FROM {store.table(name, generation)}")
            rows[name] = sorted((dict(row) for row in cursor.fetchall()), key=lambda r: json.dumps(r, default=str))
    return rows


def read_env(env: dict[str, str]) -> dict[str, str]:
    return read_side_env(load_config(env))


def wait_for_lag_zero(env: dict[str, str], head: int, timeout: float = 120.0) -> dict[str, Any]:
    """Waits until the running worker has applied the log up to ``head``."""
    app = LedgerApplication(env=env)
    db = database_from_env(read_env(env))
    try:
        store = ViewStore(db)
        deadline = time.monotonic() + timeout
        while True:
            with db.transaction(write=False) as cursor:
                position = store.position(cursor, store.generation(cursor))
            if position >= head:
                return {"position": position, "head": app.recorder.max_notification_id() or 0}
            if time.monotonic() > deadline:
                raise AssertionError(f"the projection worker is stuck at {position} of {head}")
            time.sleep(0.2)
    finally:
        db.close()
        app.close()


def check_views_equal_rebuild(stack: Stack) -> dict[str, int]:
    """The views the worker built incrementally, through crashes, equal a rebuild from position 0 (`ledger projections
    rebuild`, into a fresh generation)."""
    db = database_from_env(read_env(stack.env))
    try:
        followed = view_rows(db)
    finally:
        db.close()
    result = stack.run_cli("projections", "rebuild", timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"rebuild failed: {result.stderr[-2000:]}")
    db = database_from_env(read_env(stack.env))
    try:
        rebuilt = view_rows(db)
    finally:
        db.close()
    followed, rebuilt = rebuildable(followed), rebuildable(rebuilt)
    # The memo tables are caches of date-judged findings, filled when a read or the idle worker asks; not views.
    different = [name for name in TABLES if name not in CACHES and followed[name] != rebuilt[name]]
    if different:
        name = different[0]
        extra = [r for r in followed[name] if r not in rebuilt[name]][:3]
        missing = [r for r in rebuilt[name] if r not in followed[name]][:3]
        raise AssertionError(f"views differ from a rebuild in {different}; in {name}: followed only {extra}, "
                             f"rebuilt only {missing}")
    return {name: len(rows) for name, rows in followed.items()}


def check_chain(stack: Stack) -> str:
    """`ledger verify`: every event is hash-chained in commit order, with nothing missing or extra."""
    result = stack.run_cli("verify", "--no-record")
    if result.returncode != 0:
        raise AssertionError(f"ledger verify failed ({result.returncode}): {result.stdout[-2000:]}"
                             f"{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[0]


# -- the crash run ----------------------------------------------------------------------------------------------------


@dataclass
class CrashReport:
    store: str
    seconds: float
    seed: int
    faults: Counter[str]
    statuses: Counter[str]
    log: dict[str, int]
    retries: dict[str, int]
    views: dict[str, int]
    chain: str
    problems: list[str]

    def lines(self) -> list[str]:
        return [
            f"store {self.store}, seed {self.seed}, {self.seconds:.0f}s of load",
            "faults injected: " + ", ".join(f"{n} {k}" for k, n in sorted(self.faults.items())),
            "answers: " + ", ".join(f"{k} {n}" for k, n in sorted(self.statuses.items())),
            "log: " + ", ".join(f"{k} {n}" for k, n in self.log.items()),
            "retried with the same key: " + ", ".join(f"{k} {n}" for k, n in self.retries.items()),
            "views equal a rebuild: " + ", ".join(f"{k} {n}" for k, n in self.views.items()),
            f"hash chain: {self.chain}",
        ]


def chaos(stack: Stack, rng: random.Random, seconds: float, faults: Counter[str],
          interval: tuple[float, float] = (2.0, 5.0), log: Callable[[str], None] = lambda _: None) -> None:
    """For ``seconds``: at seeded random points, kill -9 the whole server, one of its workers or the projection
    worker, and start them again (the server after a seeded short pause)."""
    end = time.monotonic() + seconds
    while True:
        pause = rng.uniform(*interval)
        if time.monotonic() + pause >= end:
            time.sleep(max(0.0, end - time.monotonic()))
            return
        time.sleep(pause)
        action = rng.choice(["server", "server", "server-worker", "projection-worker", "both"])
        log(f"kill -9 {action}")
        if action in ("server", "both"):
            stack.kill_server()
            faults["kill -9 server"] += 1
        if action in ("projection-worker", "both"):
            stack.kill_worker()
            faults["kill -9 projection worker"] += 1
        if action == "server-worker" and stack.kill_one_server_worker(rng):
            faults["kill -9 one server worker"] += 1
        if action in ("projection-worker", "both"):
            stack.start_worker()
        if action in ("server", "both"):
            time.sleep(rng.uniform(0.0, 1.0))
            stack.start_server()


def crash_run(store: str, store_env: dict[str, str], workdir: Path, *, seconds: float = 40.0, seed: int = 1,
              clients: int = 8, log: Callable[[str], None] = lambda _: None) -> CrashReport:
    """The whole crash test on one store; raises AssertionError naming what went wrong."""
    env = stack_env(store_env, workdir)
    stack = Stack(env, workdir)
    rng = random.Random(seed)
    faults: Counter[str] = Counter()
    try:
        stack.start()
        ledger = prepare(stack, env)
        load = Load(stack.base, ledger, clients=clients, seed=seed)
        load.start()
        started = time.monotonic()
        chaos(stack, rng, seconds, faults, log=log)
        elapsed = time.monotonic() - started
        if stack.worker is None or stack.worker.poll() is not None:
            stack.start_worker()
        load.finish()
        if load.problems:
            raise AssertionError("answers went wrong:\n" + "\n".join(load.problems[:30]))
        facts = read_log(env)
        counts = check_log(facts, load)
        retries = retry_all(load)
        facts = read_log(env)
        after = check_log(facts, load)  # now every request of the load has been answered once
        counts["postings after retries"] = after["postings"]
        wait_for_lag_zero(env, facts.head)
        views = check_views_equal_rebuild(stack)
        chain = check_chain(stack)
        return CrashReport(store, elapsed, seed, faults, load.statuses, counts, retries, views, chain, load.problems)
    except BaseException:
        log(f"server log:\n{stack.log_tail('server')}\nworker log:\n{stack.log_tail('worker')}")
        raise
    finally:
        stack.stop()


@contextlib.contextmanager
def postgres_store(admin_dsn: str, name: str) -> Iterator[dict[str, str]]:
    """A throwaway database for a standalone run (dropped afterwards)."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = f"{name}_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    params = conninfo_to_dict(make_conninfo(admin_dsn, dbname=dbname))
    try:
        yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": dbname,
               "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
               "POSTGRES_PORT": str(params.get("port") or 5432),
               "POSTGRES_USER": str(params.get("user") or "postgres"),
               "POSTGRES_PASSWORD": str(params.get("password") or ""), "POSTGRES_POOL_SIZE": "2",
               "POSTGRES_MAX_OVERFLOW": "4", "LEDGER_VIEWS_POOL_SIZE": "2", "CREATE_TABLE": "y"}
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


@contextlib.contextmanager
def store_for(store: str, workdir: Path, dsn: str, name: str) -> Iterator[dict[str, str]]:
    if store == "sqlite":
        yield {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(workdir / "ledger.sqlite"),
               "SQLITE_LOCK_TIMEOUT": "10"}
    else:
        with postgres_store(dsn, name) as env:
            yield env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to crash things under load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--dsn", default=os.environ.get("LEDGER_TEST_POSTGRES_DSN",
                                                         "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    # A plain kill (SIGTERM) unwinds like Ctrl-C: the server and worker it started are stopped and its
    # throwaway database dropped, instead of being left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="crashtest-") as tmp, \
            store_for(args.store, Path(tmp), args.dsn, "ledger_crashtest") as store_env:
        report = crash_run(args.store, store_env, Path(tmp), seconds=args.seconds, seed=args.seed,
                           clients=args.clients, log=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

