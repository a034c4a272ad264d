"""SQL is built only with parameters: injection strings in every text field of every write and in every query
parameter of every read are refused (4xx) or stored as plain text, never a 5xx; afterwards every table is still
there and `ledger verify` finds the log intact."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from click.testing import CliRunner
from flask import Flask

from api.cli import main
from api.extension import extension
from tests.security.conftest import People, World
from tests.security.test_route_authorisation import RULES, _path

INJECTIONS = (
    "'; DROP TABLE stored_events;--",
    '" OR 1=1 --',
    "\u2019 OR \u20181\u2019=\u20181",  # unicode quotes
    "x\x00y",  # NUL byte
    "1; SELECT pg_sleep(0)--",
    "%' UNION SELECT * FROM sqlite_master --",
)


def _text_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every string in a JSON body (nested objects and lists included)."""
    if isinstance(value, str):
        yield prefix
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_paths(item, (*prefix, index))


def _replaced(body: Any, path: tuple[Any, ...], text: str) -> Any:
    if not path:
        return text
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = _replaced(body[path[0]], path[1:], text)
    return copy


def _tables(api: Flask, app_env: dict[str, str]) -> set[str]:
    if app_env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        with api.app_context():
            recorder: Any = extension().app.recorder
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                return {row[0] for row in cursor.fetchall()}
    dsn = {"dbname": app_env["POSTGRES_DBNAME"], "host": app_env["POSTGRES_HOST"], "port": app_env["POSTGRES_PORT"],
           "user": app_env["POSTGRES_USER"], "password": app_env["POSTGRES_PASSWORD"]}
    with psycopg.connect(**dsn) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                            (app_env["POSTGRES_SCHEMA"],)).fetchall()
    return {row[0] for row in rows}


def test_injection_strings_in_every_field_and_parameter_are_refused_or_stored_as_text(
        api: Flask, people: People, world: World, app_env: dict[str, str]) -> None:
    tables = _tables(api, app_env)
    assert tables
    failures: list[str] = []
    n = 0
    writes = [(rule, spec) for (method, rule), spec in RULES.items()
              if method == "POST" and rule.startswith("/api/") and not rule.endswith("/closure")]
    for rule, (parameters, body, _) in writes:
        assert body is not None
        path = _path(rule, parameters, world, "json")
        caller = people.auditor if "/decisions" in rule else people.officer_in
        template = body(world, "inj")
        for field in _text_paths(template):
            for text in INJECTIONS:
                n += 1
                response = caller.post(path.removeprefix("/api/v1"), _replaced(template, field, f"{n}{text}"))
                if response.status_code >= 500:
                    failures.append(f"POST {rule} {field} {text!r}: {response.status_code}")
    spec = people.auditor.get("/openapi.json").get_json()
    for rule, (parameters, _, _) in [(r, s) for (m, r), s in RULES.items() if m == "GET" and r.startswith("/api/")]:
        path = _path(rule, parameters, world, "json")
        template = "/api" + rule.split("/api", 1)[1]
        for name in rule.split("<")[1:]:
            template = template.replace("<" + name.split(">")[0] + ">", "{" + name.split(">")[0].split(":")[-1] + "}")
        operation = spec["paths"].get(template, {}).get("get", {})
        queries = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        caller = people.admin if rule.endswith("/tokens") else people.auditor
        for name in queries:
            for text in INJECTIONS:
                response = caller.get(path.removeprefix("/api/v1"), query={name: text})
                if response.status_code >= 500:
                    failures.append(f"GET {rule}?{name}={text!r}: {response.status_code}")
        for text in INJECTIONS:  # and in the path's own parameters
            for parameter in parameters:
                injected = _path(rule, {**parameters, parameter: "=" + text.replace("\x00", "%00")}, world, "json")
                response = caller.get(injected.removeprefix("/api/v1"))
                if response.status_code >= 500:
                    failures.append(f"GET {injected}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert n > 100  # every text field of every write got every string
    assert _tables(api, app_env) == tables
    verified = CliRunner().invoke(main, ["verify"], env=app_env)
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.output
    assert people.officer_in.get(f"/projects/{world.project}").status_code == 200
