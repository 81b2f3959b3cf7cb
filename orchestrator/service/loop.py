"""The orchestrator service: consumes ``intake`` and task results, drives the engine, publishes.

Per inbound message: parse (a bad message is dead-lettered with its reason and acked), step
and commit through the engine, publish the committed outbox with confirms, then ack. A crash
anywhere leaves either the inbound message unacked (redelivered, deduplicated) or the outbox
committed (re-published on restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aio_pika.abc import AbstractRobustConnection

from broker import (
    CALLS_QUEUE,
    CONTROL_QUEUE,
    INTAKE_QUEUE,
    TASK_RESULTS_QUEUE,
    Consumer,
    Delivery,
    Topology,
    connect_and_set_up,
    consume,
)
from orchestrator.api.actions import StepFunctionsApi
from orchestrator.api.activities import declare_activity_queues
from orchestrator.api.app import create_app
from orchestrator.api.server import ApiServer
from orchestrator.api.sigv4 import Credentials
from orchestrator.arns import Account
from orchestrator.asl.definition import StateMachine, TaskState
from orchestrator.console.live import Changes
from orchestrator.console.routes import Console
from orchestrator.engine import Engine
from orchestrator.integrations.aws.jobs import poll_delays
from orchestrator.integrations.dispatch import task_queues
from orchestrator.integrations.mock_target import MockTarget
from orchestrator.integrations.routing import Routing
from orchestrator.integrations.targets import Targets
from orchestrator.service.calls import DEFAULT_JOB_POLL_SECONDS, Calls
from orchestrator.service.clock import SteadyClock
from orchestrator.service.crash_guard import CrashGuard
from orchestrator.service.express import Reruns, consume_replies
from orchestrator.service.function_queues import FunctionQueues, MissingFunction, fail_unroutable
from orchestrator.service.handlers import Handlers
from orchestrator.service.publisher import OutboxPublisher
from orchestrator.service.timers import fire_timers
from orchestrator.store import OutboxMessage
from orchestrator.store.express.routed import RoutedStore
from orchestrator.store.open import open_store
from orchestrator.store.postgres.changes import ChangeListener
from orchestrator.store.postgres.store import is_server_url

log = logging.getLogger(__name__)
# The longest the timer loop sleeps: a timer set due sooner than this wakes it at once.
TIMER_POLL_SECONDS = 0.2
# How often a replica sharing the store looks for state machines another one changed.
MACHINE_SYNC_SECONDS = 1.0
# A replica's crash guard files when the store is shared (its own, not the database's).
REPLICA_GUARD = Path("sfn-replica")


@dataclass(frozen=True)
class ServiceConfig:
    """How to run the service."""

    machines: dict[str, StateMachine]
    amqp_url: str
    # A SQLite file, or a postgresql:// URL that several orchestrator replicas share.
    db_path: Path | str
    prefetch: int = 100
    account: Account = field(default_factory=Account)
    api_host: str = "127.0.0.1"
    api_port: int | None = 8083  # None: no API server
    credentials: Credentials | None = None  # when set, API requests must be signed for them
    # A task whose function no worker serves: "wait" for one, or "fail" after
    # ``missing_function_grace`` seconds with Lambda.ResourceNotFoundException (AWS).
    missing_function: MissingFunction = "wait"
    missing_function_grace: float = 10.0
    # With access control on, /metrics needs a signed GET or this bearer token, unless public.
    metrics_token: str | None = None
    # The web console's token, needed when the API checks signatures (SFN_CONSOLE_TOKEN).
    console_token: str | None = None
    metrics_public: bool = False
    # Where service integrations go (SFN_INTEGRATIONS), and the mock configuration
    # (SFN_MOCK_CONFIG) whose test cases executions may run.
    routing: Routing = field(default_factory=Routing)
    mock: MockTarget | None = None
    # Waits, Retry backoffs and timeouts last this times as long (WAIT_TIME_SCALE, for tests).
    time_scale: float = 1.0
    # Publish EventBridge-shaped status changes on the executions exchange (SFN_STATUS_EVENTS).
    status_events: bool = True
    # A .sync job's first poll, in seconds; then half as long again each time, up to a
    # minute (SFN_JOB_POLL_SECONDS, small in tests).
    job_poll_seconds: float = DEFAULT_JOB_POLL_SECONDS
    # The crash guard's files (SFN_GUARD_FILE): beside a SQLite store by default; with a
    # shared store, each replica's own (default ./sfn-replica).
    guard_path: Path | None = None


def function_names(machines: dict[str, StateMachine]) -> set[str]:
    """Every function a Task of the loaded machines invokes."""
    return {
        state.function_name
        for machine in machines.values()
        for scope in machine.scopes
        for state in scope.states.values()
        # A lambda:invoke FunctionName given at run time has no name here: its queue is
        # the one its worker declared, and a task for a function with none fails.
        if isinstance(state, TaskState) and state.function_name
    }


async def run_service(
    config: ServiceConfig, stop: asyncio.Event, ready: asyncio.Event | None = None
) -> None:
    """Serve until ``stop`` is set; ``ready`` is set once the consumers are running."""
    # (or StoreError); EXPRESS executions run in memory beside it (see store.routed)
    store = RoutedStore(open_store(config.db_path, service=True))
    shared = is_server_url(config.db_path)
    clock = SteadyClock()
    engine = Engine(
        config.machines,
        store,
        account=config.account,
        clock=clock.datetime,
        routing=config.routing,
        mock=config.mock,
        time_scale=config.time_scale,
        status_events=config.status_events,
        shared_store=shared,
    )
    targets = Targets(config.routing, config.mock)
    guard = CrashGuard(config.guard_path or (REPLICA_GUARD if shared else config.db_path))
    store.forget_unserved()  # what an earlier run saw; the queues are looked at again
    in_flight: set[asyncio.Task[None]] = set()
    reruns = Reruns(engine, store)  # EXPRESS executions a crash interrupted run again

    async def subscribe(connection: AbstractRobustConnection) -> _Subscription:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=config.prefetch)
        topology = Topology(channel)
        await topology.executions_exchange()
        for queue in sorted(task_queues(engine.machines.values(), config.routing)):
            await topology.work_queue(queue)
        for name in (INTAKE_QUEUE, TASK_RESULTS_QUEUE, CONTROL_QUEUE, CALLS_QUEUE):
            await topology.work_queue(name)
        for delay in poll_delays(config.job_poll_seconds):  # where .sync jobs' polls wait
            await topology.calls_delay_queue(delay)
        await declare_activity_queues(topology, store)

        async def unroutable(row: OutboxMessage) -> None:
            await fail_unroutable(engine, publisher.publish, row)

        publisher = OutboxPublisher(store, channel, unroutable=unroutable)
        left = await publisher.sweep()
        if left:
            log.info("published %d outbox message(s) left by the previous run", left)
        await reruns.run_claimed(publisher.publish)  # before a redelivered start comes in
        handlers = Handlers(engine, publisher, topology, guard=guard, prefetch=config.prefetch)
        # The rabbitmq target declares users' queues and exchanges on a channel of its own:
        # a declaration the broker refuses closes that channel, not the service's.
        rabbit_channel = await connection.channel(publisher_confirms=True)
        calls_channel = await connection.channel(publisher_confirms=True)
        await calls_channel.set_qos(prefetch_count=config.prefetch)
        calls = Calls(
            targets,
            topology,
            engine,
            publisher.publish,
            rabbit_channel,
            job_poll_seconds=config.job_poll_seconds,
        )
        consumers = [
            await consume(channel, INTAKE_QUEUE, _tracked(handlers.on_intake, in_flight)),
            await consume(channel, TASK_RESULTS_QUEUE, _tracked(handlers.on_result, in_flight)),
            await consume(channel, CONTROL_QUEUE, _tracked(handlers.on_control, in_flight)),
            # This process's own reply queue: its EXPRESS executions' tasks are answered there.
            await consume_replies(
                channel, topology, store, _tracked(handlers.on_result, in_flight)
            ),
            # Calls ack one by one, and the handlers ack runs with ``multiple``: on one
            # channel, a run's ack would settle a call still being made (and its own ack then
            # closes the channel: "unknown delivery tag"). A channel of their own.
            await consume(calls_channel, CALLS_QUEUE, _tracked(calls.on_call, in_flight)),
        ]
        watcher = FunctionQueues(
            await connection.channel(),
            engine,
            publisher.publish,
            topology.work_queues,
            missing_function=config.missing_function,
            grace=config.missing_function_grace,
        )
        return _Subscription(topology, publisher, handlers, consumers, watcher)

    try:
        connection, subscribed = await connect_and_set_up(config.amqp_url, subscribe)
    except BaseException:
        guard.close()
        store.close()
        raise
    topology, publisher, handlers = subscribed.topology, subscribed.publisher, subscribed.handlers
    consumers = subscribed.consumers
    try:
        committer = asyncio.create_task(handlers.commit_forever())
        sweeper = asyncio.create_task(publisher.sweep_forever())
        wake = asyncio.Event()

        def timer_set(due: datetime) -> None:
            if due.timestamp() <= clock.now() + TIMER_POLL_SECONDS:
                wake.set()

        engine.on_timer = timer_set
        timers = asyncio.create_task(
            fire_timers(
                engine,
                publisher.publish,
                stop,
                clock=clock,
                guard=guard,
                poll=TIMER_POLL_SECONDS,
                wake=wake,
            )
        )
        sampler = asyncio.create_task(subscribed.watcher.run())
        rerunner = asyncio.create_task(reruns.forever(publisher.publish))
        # Another replica's API may create, update or delete state machines.
        syncer = asyncio.create_task(_sync_machines(engine)) if shared else None
        server = None
        listener: ChangeListener | None = None
        if config.api_port is not None:

            async def prepare(machine: StateMachine) -> None:
                for queue in sorted(task_queues([machine], config.routing)):
                    await topology.work_queue(queue)

            api = StepFunctionsApi(engine, publisher, account=config.account, prepare=prepare)
            changes = Changes()
            changes.bind(asyncio.get_running_loop())
            engine.on_commit = changes.notify
            if shared:  # other replicas step executions this console shows
                listener = ChangeListener(str(config.db_path), changes.notify)
                listener.start()
            console = Console(
                api,
                changes,
                protected=config.credentials is not None,
                token=config.console_token,
                queue_samples=lambda: subscribed.watcher.samples,
            )
            app = create_app(
                api,
                config.credentials,
                metrics_token=config.metrics_token,
                metrics_public=config.metrics_public,
                console=console,
            )
            server = ApiServer(app, config.api_host, config.api_port)
            await server.start()
            log.info("AWS Step Functions API on http://%s:%d", config.api_host, config.api_port)
        log.info(
            "orchestrator serving %s; functions: %s",
            ", ".join(sorted(engine.machines)),
            ", ".join(sorted(function_names(engine.machines))),
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("orchestrator stopping")
        for consumer in consumers:
            await _cancel(consumer)
        if in_flight:
            await asyncio.wait(in_flight, timeout=10)
        # Apply what the consumers queued before stopping (unacked leftovers are redelivered).
        for _ in range(1000):
            if handlers.idle():
                break
            await asyncio.sleep(0.01)
        committer.cancel()
        await handlers.acks.flush()
        publisher.forget_confirmed()
        if server is not None:
            await api.activities.close()  # pending GetActivityTask polls answer now
            await server.stop()
        if listener is not None:
            await asyncio.to_thread(listener.stop)
        sweeper.cancel()
        timers.cancel()
        sampler.cancel()
        rerunner.cancel()
        if syncer is not None:
            syncer.cancel()
    finally:
        await connection.close()
        guard.close()
        store.close()


async def _sync_machines(engine: Engine) -> None:
    """Look at the shared store's state machines every :data:`MACHINE_SYNC_SECONDS`."""
    while True:
        await asyncio.sleep(MACHINE_SYNC_SECONDS)
        try:
            engine.sync_machines()
        except Exception as exc:  # the next round retries; the service keeps serving
            log.warning("reading the shared store's state machines failed: %s", exc)


Handler = Callable[[Delivery], Awaitable[None]]


def _tracked(handler: Handler, in_flight: set[asyncio.Task[None]]) -> Handler:
    """Wrap a consumer callback so that a graceful stop can wait for the running ones."""

    async def run(message: Delivery) -> None:
        task = asyncio.current_task()
        assert task is not None
        in_flight.add(task)
        try:
            await handler(message)
        finally:
            in_flight.discard(task)

    return run


async def _cancel(consumer: Consumer) -> None:
    try:
        await consumer.cancel()
    except Exception as exc:  # the channel may already be gone; nothing is lost by it
        log.debug("cancelling the consumer of %s failed: %s", consumer.queue, exc)


@dataclass(frozen=True)
class _Subscription:
    """What the service holds once subscribed: topology, publisher, handlers, consumers."""

    topology: Topology
    publisher: OutboxPublisher
    handlers: Handlers
    consumers: list[Consumer]
    watcher: FunctionQueues
