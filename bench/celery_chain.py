"""The call-center workflow the Celery way, for comparison: a chain, then a branch by Task.replace.

Each case is ``chain(open_case.s(id), assign_case.s(), work_on_case.s(),
is_case_resolved.s())``. ``is_case_resolved`` is the Choice state: it replaces itself
(``Task.replace``, Celery's idiom for deciding the rest of a workflow at run time) with
``close_case`` or ``escalate_case`` according to ``Status``. The replacement keeps the
replaced task's id, so the chain's ``AsyncResult`` is the final step's. With the ``rpc://``
backend a result travels to the caller's ``reply_to``, which ``replace()`` does not copy onto
the new signature, so it is set explicitly. ``escalate_case`` ends the case failed, as the
Fail state does: it raises ``CaseEscalated("Engage Tier 2 Support.")``, declared in
``throws`` (an expected failure: a FAILURE result, no traceback logged).

Only the final step stores a result (``ignore_result=True`` elsewhere: a chain hands each
return value to the next task in the message, not through the backend).

Settings a Celery user wanting ours' durability would pick:
- broker RabbitMQ, result backend ``rpc://`` (results as AMQP messages, no other server);
- one durable queue ``bench.celery``, quorum as ours by default (``BENCH_QUEUE_TYPE``);
- ``task_default_delivery_mode="persistent"``, publisher confirms on every publish
  (``broker_transport_options={"confirm_publish": True}``), ``task_acks_late=True`` and
  ``task_reject_on_worker_lost=True``: a task is acked after it ran, and is redelivered if
  its worker dies;
- JSON serialization; the default prefetch multiplier (4) per pool process.

``BENCH_CELERY_CONFIG=default`` instead runs Celery as most deployments leave it: a classic
queue, no publisher confirms, acks early (``task_acks_late`` off: a task is acked when a pool
process takes it, so a worker that dies loses it) and a prefetch of 64 messages in all (the
multiplier is 64 / concurrency). Messages stay persistent, Celery's own default.

The worker is ``celery -A bench.celery_chain worker --pool=prefork --concurrency=K
--without-gossip --without-mingle --loglevel=WARNING`` (per-task INFO lines off: ours logs
nothing per execution either); it prints ``celery worker ready`` once consuming.
:func:`run_cases` is the client: it publishes chains (closed or open loop) and takes the
results off the rpc backend's reply queue as they arrive.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from celery import Celery, Task, chain, signals  # type: ignore[import-untyped]

from bench.common import CLOSED, ESCALATED, ESCALATION_CAUSE, Load, Tracker, amqp_url, kombu_url
from bench.common import expected_message as _expected_message

QUEUE = "bench.celery"
QUEUE_TYPE_ENV = "BENCH_QUEUE_TYPE"
CONFIG_ENV = "BENCH_CELERY_CONFIG"  # "durable" (the default here) or "default"
CONCURRENCY_ENV = "BENCH_CELERY_CONCURRENCY"
DEFAULT_PREFETCH = 64  # messages per worker in the "default" configuration
READY_LINE = "celery worker ready"
DEFAULT_CONCURRENCY = os.cpu_count() or 1  # Celery's own default for the prefork pool


def queue_type() -> str:
    return os.environ.get(QUEUE_TYPE_ENV) or "quorum"


def configuration() -> str:
    """Which settings the app runs with: ``durable`` or ``default`` (see the docstring)."""
    chosen = os.environ.get(CONFIG_ENV) or "durable"
    if chosen not in ("durable", "default"):
        raise ValueError(f"{CONFIG_ENV} must be 'durable' or 'default', not {chosen!r}")
    return chosen


def settings(config: str, concurrency: int) -> dict[str, Any]:
    """The app's settings in configuration ``config`` for a pool of ``concurrency``."""
    common: dict[str, Any] = {
        "task_default_queue": QUEUE,
        "task_default_delivery_mode": "persistent",
        "broker_connection_retry_on_startup": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
    }
    if config == "default":
        return common | {
            "task_default_queue_type": "classic",
            "task_acks_late": False,
            "worker_prefetch_multiplier": max(1, DEFAULT_PREFETCH // max(1, concurrency)),
        }
    return common | {
        "task_default_queue_type": queue_type(),
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "broker_transport_options": {"confirm_publish": True},
    }


app = Celery("bench.celery_chain", broker=kombu_url(amqp_url()), backend="rpc://")
app.conf.update(
    settings(configuration(), int(os.environ.get(CONCURRENCY_ENV) or DEFAULT_CONCURRENCY))
)


def use(config: str, concurrency: int) -> None:
    """Reconfigure this process's (the client's) app for ``config``: its settings, and the
    connection pool and queue declarations made from the previous ones."""
    app.close()  # the broker connections opened with the old transport options
    app.conf.update(settings(config, concurrency))
    app._pool = None
    app.__dict__.pop("amqp", None)  # a cached property: queues declared with the old type


class CaseEscalated(Exception):
    """The Fail state: an unresolved case goes to tier 2."""


@app.task(ignore_result=True)  # type: ignore[untyped-decorator]
def open_case(case_id: str) -> dict[str, Any]:
    return {"Case": case_id, "Message": f"Case {case_id}: opened..."}


@app.task(ignore_result=True)  # type: ignore[untyped-decorator]
def assign_case(event: dict[str, Any]) -> dict[str, Any]:
    return {"Case": event["Case"], "Message": event["Message"] + "assigned..."}


@app.task(ignore_result=True)  # type: ignore[untyped-decorator]
def work_on_case(event: dict[str, Any]) -> dict[str, Any]:
    status = random.randint(0, 1)
    suffix = "resolved..." if status == 1 else "unresolved..."
    return {"Case": event["Case"], "Status": status, "Message": event["Message"] + suffix}


@app.task(bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
def is_case_resolved(self: Task, event: dict[str, Any]) -> Any:
    target = close_case if event["Status"] == 1 else escalate_case
    return self.replace(target.s(event).set(reply_to=self.request.reply_to))


@app.task  # type: ignore[untyped-decorator]
def close_case(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "Case": event["Case"],
        "Status": event["Status"],
        "Message": event["Message"] + "closed.",
    }


@app.task(throws=(CaseEscalated,))  # type: ignore[untyped-decorator]
def escalate_case(event: dict[str, Any]) -> dict[str, Any]:
    message = event["Message"] + "escalating."
    raise CaseEscalated(f"{ESCALATION_CAUSE} ({message})")


@signals.worker_ready.connect  # type: ignore[untyped-decorator]
def _announce_ready(**_: Any) -> None:
    print(READY_LINE, file=sys.stderr, flush=True)


def case_chain(case_id: str) -> Any:
    """The workflow of one case, as a Celery canvas."""
    return chain(open_case.s(case_id), assign_case.s(), work_on_case.s(), is_case_resolved.s())


def worker_command(concurrency: int) -> list[str]:
    """The worker's command line (run from the repository root)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "bench.celery_chain",
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=WARNING",
        "-Q",
        QUEUE,
        "-n",
        "bench@%h",
    ]


def _outcome(case_id: str, meta: dict[str, Any]) -> str:
    if meta["status"] == "SUCCESS":
        result = meta.get("result") or {}
        ok = result.get("Message") == _expected_message(case_id, closed=True)
        return CLOSED if ok else repr(result)
    if meta["status"] == "FAILURE":
        error = meta.get("result") or {}
        text = str(error.get("exc_message", error))
        ok = ESCALATION_CAUSE in text and _expected_message(case_id, closed=False) in text
        return ESCALATED if ok else text
    return str(meta["status"])


def run_cases(case_ids: Sequence[str], load: Load) -> Tracker:
    """Publish one chain per case under ``load``; record each result as it arrives.

    The rpc backend's own result consumer takes the messages off this client's reply queue;
    its ``on_message`` hook sees every one as it is drained, so arrival is timed exactly,
    however many chains are outstanding. Bounded by ``load.timeout``.
    """
    tracker = Tracker(expected=len(case_ids))
    backend = app.backend
    consumer = backend.result_consumer
    task_to_case: dict[str, str] = {}

    def on_message(meta: dict[str, Any]) -> None:
        if meta.get("status") not in ("SUCCESS", "FAILURE", "REVOKED"):
            return
        case_id = task_to_case.get(meta.get("task_id", ""))
        if case_id is None:
            tracker.unexpected += 1
            return
        tracker.arrived(case_id, _outcome(case_id, meta))

    if consumer._consumer is None:  # start consuming the reply queue before the first publish
        consumer.start("bench")
    consumer.on_message = on_message
    deadline = time.monotonic() + load.timeout
    start = time.perf_counter()
    index = 0
    try:
        while not tracker.complete and time.monotonic() < deadline:
            while index < len(case_ids):
                if load.rate:
                    if time.perf_counter() < start + index / load.rate:
                        break
                elif tracker.inflight >= load.concurrency:
                    break
                case_id = case_ids[index]
                index += 1
                tracker.published(case_id)
                try:
                    result = case_chain(case_id).apply_async()
                    task_to_case[result.id] = case_id
                except Exception as exc:
                    tracker.publish_failed(case_id, exc)
            wait = 0.05
            if load.rate and index < len(case_ids):
                wait = max(0.0, min(wait, start + index / load.rate - time.perf_counter()))
            with contextlib.suppress(TimeoutError):
                consumer.drain_events(timeout=wait or 0.001)
        settle_until = time.monotonic() + load.settle
        while time.monotonic() < settle_until:
            with contextlib.suppress(TimeoutError):
                consumer.drain_events(timeout=0.05)
    finally:
        consumer.on_message = None
    return tracker
