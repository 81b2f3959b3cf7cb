"""Prometheus metrics of the orchestrator, served at ``/metrics`` by the API server."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

EXECUTIONS_STARTED = Counter(
    "sfn_executions_started_total",
    "Executions started.",
    ["state_machine"],
    registry=REGISTRY,
)
EXECUTIONS_FINISHED = Counter(
    "sfn_executions_finished_total",
    "Executions finished, by final status.",
    ["state_machine", "status"],
    registry=REGISTRY,
)
STATE_TRANSITIONS = Counter(
    "sfn_state_transitions_total",
    "States entered (AWS bills these as state transitions).",
    ["state_machine"],
    registry=REGISTRY,
)
TASK_SECONDS = Histogram(
    "sfn_task_duration_seconds",
    "From dispatching a task to applying its result, per function.",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
QUEUE_MESSAGES = Gauge(
    "sfn_queue_messages",
    "Messages ready in each work queue (sampled).",
    ["queue"],
    registry=REGISTRY,
)
QUEUE_CONSUMERS = Gauge(
    "sfn_queue_consumers",
    "Consumers of each work queue (sampled); 0 on a function queue means no worker serves it.",
    ["queue"],
    registry=REGISTRY,
)
