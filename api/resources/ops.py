"""Operations: liveness, readiness (the store answers), Prometheus metrics and a self-contained API docs page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template_string

from api.extension import ledger
from api.metrics import metrics_response
from api.problems import problem

log = logging.getLogger("api")
blp = Blueprint("ops", __name__)

DOCS = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ spec.info.title }} — API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .25rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
.m{font-weight:bold;font-family:monospace}.POST{color:#a35a00}.GET{color:#006b3c}
</style></head><body>
<h1>{{ spec.info.title }} <small>{{ spec.info.version }}</small></h1>
<p>Machine-readable: <a href="{{ url }}"><code>{{ url }}</code></a> (OpenAPI {{ spec.openapi }}).
Send <code>Authorization: Bearer &lt;token&gt;</code>; every POST needs <code>Idempotency-Key</code>; amounts are
strings with at most two decimals; errors are <code>application/problem+json</code>.</p>
{% for tag in tags %}<h2>{{ tag.name }}</h2><p>{{ tag.description }}</p>
<table><tr><th>method</th><th>path</th><th>what</th><th>body</th><th>answers</th></tr>
{% for op in tag.operations %}<tr><td class="m {{ op.method }}">{{ op.method }}</td><td><code>{{ op.path }}</code></td>
<td>{{ op.summary }}<br><small>{{ op.description }}</small></td><td>{{ op.body }}</td>
<td>{{ op.responses }}</td></tr>{% endfor %}</table>{% endfor %}
<h2>Schemas</h2>{% for name, schema in schemas %}<h3 id="{{ name }}">{{ name }}</h3><table>
{% for field, prop in schema.get("properties", {}).items() %}<tr><td><code>{{ field }}</code>
{% if field in schema.get("required", []) %}*{% endif %}</td><td>{{ prop.get("type", "") }}
{{ prop.get("format", "") }}</td><td>{{ prop.get("description", "") }}
{% if prop.get("enum") %}one of {{ prop["enum"]|join(", ") }}{% endif %}</td></tr>{% endfor %}</table>
{% endfor %}</body></html>"""


@blp.route("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@blp.route("/readyz")
def readyz() -> Response:
    """The event store answers; reports the log's last position and where the audit views stand (lag)."""
    try:
        position = ledger().recorder.max_notification_id() or 0
    except Exception:
        log.exception("readiness check failed")
        return problem(503, "The event store does not answer.", code="unavailable")
    projections = None
    if current_app.extensions["ledger"].projections != "external" or current_app.extensions["ledger"].started:
        try:
            projections = current_app.extensions["ledger"].read_side.worker.status().as_dict()
        except Exception:
            log.exception("readiness check of the audit views failed")
            return problem(503, "The audit views' database does not answer.", code="unavailable")
    return jsonify(status="ready", log_position=position, projections=projections)


@blp.route("/metrics")
def metrics() -> Response:
    return metrics_response(current_app)


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    tags: dict[str, dict[str, Any]] = {t["name"]: {**t, "operations": []} for t in spec.get("tags", [])}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            tag = tags.setdefault(op.get("tags", ["other"])[0], {"name": op.get("tags", ["other"])[0],
                                                                 "operations": []})
            tag["operations"].append({
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "body": body.get("$ref", "").rsplit("/", 1)[-1],
                "responses": ", ".join(sorted(op.get("responses", {}))),
            })
    return list(tags.values())


@blp.route("/api/v1/docs")
def docs() -> str:
    """A human-readable page of every operation and schema, built from the OpenAPI document (no CDN needed)."""
    spec = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    schemas = sorted(spec.get("components", {}).get("schemas", {}).items())
    return render_template_string(DOCS, spec=spec, tags=_operations(spec), schemas=schemas,
                                  url="/api/v1/openapi.json")
