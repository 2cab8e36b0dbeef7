"""Prometheus metrics: request counts and latency per route, queue depth, the index size."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One registry per app, so several apps (e.g. in tests) never share counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.index_size = Gauge(
            "rag_index_items", "Items in the loaded index", ["kind"], registry=self.registry
        )
        self.compute = Gauge(
            "rag_compute_requests",
            "Model requests in this worker",
            ["state"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "rag_feedback_total", "Readers' verdicts on answers", ["rating"], registry=self.registry
        )
        for rating in ("up", "down"):  # both series exist from the start, at 0
            self.feedback.labels(rating)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """A plain ASGI middleware (not ``BaseHTTPMiddleware``): it leaves ``receive`` alone,
        so handlers still see a client's disconnect, and streams pass straight through."""

        async def measured(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = getattr(scope.get("route"), "path", "unmatched")
                method = scope.get("method", "")
                self.requests.labels(method, route, str(status)).inc()
                self.latency.labels(method, route).observe(time.perf_counter() - started)

        return measured

    def render(self, counts: dict[str, int] | None, running: int = 0, waiting: int = 0) -> bytes:
        for kind, value in (counts or {}).items():
            self.index_size.labels(kind).set(value)
        self.compute.labels("running").set(running)
        self.compute.labels("waiting").set(waiting)
        return generate_latest(self.registry)
