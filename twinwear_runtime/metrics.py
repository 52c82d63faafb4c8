"""Prometheus metrics that every service exports. Dashboards and alerts rely on these names."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "twinwear_events_consumed_total", "Events taken from Kafka, by event type.", ["service", "event_type"]
)
EVENTS_PRODUCED = Counter(
    "twinwear_events_produced_total", "Events written to Kafka, by event type.", ["service", "event_type"]
)
EVENTS_FAILED = Counter(
    "twinwear_events_failed_total",
    "Messages that could not be handled, by event type and outcome (retried, dead_lettered or parked).",
    ["service", "event_type", "outcome"],
)
DEPENDENCY_WAITS = Counter(
    "twinwear_dependency_waits_total",
    "Times the consumer paused to wait out an unavailable dependency, by dependency.",
    ["service", "dependency"],
)
WAITING = Gauge(
    "twinwear_waiting_for_dependency", "1 while the consumer is paused waiting for a dependency.", ["service"]
)
TRANSACTIONS = Counter(
    "twinwear_transactions_total", "Kafka transactions, by outcome (committed or aborted).", ["service", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "twinwear_handler_duration_seconds",
    "Time to handle one event, including its storage and produced events.",
    ["service", "event_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "twinwear_consumer_lag", "Messages behind the end of each assigned partition.", ["service", "topic", "partition"]
)
