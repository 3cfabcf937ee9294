"""Prometheus metrics of one gateway (own registry, so several gateways can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "antt_gateway_requests", "POST /api/v1/events requests by HTTP status",
            ["status"], registry=self.registry,
        )
        self.events = Counter(
            "antt_gateway_events", "events by outcome (accepted, rejected, forbidden)",
            ["outcome"], registry=self.registry,
        )
        self.accepted_by_province = Counter(
            "antt_gateway_accepted_events", "events acknowledged by the broker, by province",
            ["province_code"], registry=self.registry,
        )
        self.latency = Histogram(
            "antt_gateway_request_seconds", "POST /api/v1/events latency",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.produce_latency = Histogram(
            "antt_gateway_produce_seconds", "time until the broker acknowledged a request",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.broker_up = Gauge(
            "antt_gateway_broker_up", "1 when the last produce or check succeeded",
            registry=self.registry,
        )
        self.tokens = Gauge(
            "antt_gateway_tokens", "tokens loaded from the token file", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
