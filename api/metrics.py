"""Prometheus metrics: requests by route and status, latencies, postings.

Each process counts its own requests. Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (``ledger
serve`` does) so that /metrics adds up every worker's figures; without it, /metrics shows the answering worker only.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ledger_http_requests_total", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("ledger_http_request_duration_seconds", "Time to answer a request",
                                 ["method", "route"], buckets=BUCKETS, registry=self.registry)
        self.postings = Counter("ledger_postings_total", "Writes committed to the ledger (replays excluded)",
                                ["operation"], registry=self.registry)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))


def init_metrics(app: Flask) -> Metrics:
    metrics = Metrics()
    app.extensions["ledger_metrics"] = metrics

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("started")
        if started is not None:
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)
        if response.status_code == 201 and g.get("posted"):
            metrics.postings.labels(request.endpoint or "-").inc()
        return response

    return metrics


def metrics_response(app: Flask) -> Response:
    metrics: Metrics = app.extensions["ledger_metrics"]
    return Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
