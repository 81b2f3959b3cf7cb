"""Activities: CreateActivity, DescribeActivity, DeleteActivity, ListActivities, and the
worker-pull GetActivityTask, over the store and the broker.

A Task whose Resource is an activity ARN leaves its task (an ``IntegrationRequest``) on the
durable queue ``activity.<name>``, which CreateActivity declares. GetActivityTask is a long
poll: it waits up to :attr:`Activities.poll_seconds` (60, AWS's, unless
``SFN_ACTIVITY_POLL_SECONDS`` says less) for a task and answers ``{"taskToken", "input"}``, or
``{}`` when none came, as AWS does.

Waiting holds neither a thread nor the event loop: a poll is a future. Each activity with
pollers has one pump that takes messages with ``basic.get`` on a channel of its own (pausing a
little longer each time the queue is empty, up to :data:`IDLE_PAUSE_SECONDS`) and hands each
to the poller that has waited longest. Handing a task out commits ActivityStarted (with the
worker's name) through the engine, as SendTask* callbacks are applied, and only then acks the
message: a crash in between hands the task out again, never loses it. Committing it before
answering also means the worker's SendTaskSuccess always finds the task started.

A poll whose client has gone (``client_gone``, set per request by the HTTP layer) stops
waiting within a second, and a task that reaches it anyway goes back to the queue for the
next worker. :meth:`Activities.close` ends every pending poll at once (each answers ``{}``),
for a server that is stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import aiormq
from aiormq.abc import DeliveredMessage
from pydantic import ValidationError

import messages
from broker.deliveries import Delivery
from broker.topology import Topology, activity_queue
from orchestrator.api.actions import (  # its rules for names and tags; it imports this lazily
    _VALID_NAME,
    MAX_TAGS,
    Handler,
    Params,
    StepFunctionsApi,
    _tags,
    _too_many_tags,
)
from orchestrator.api.errors import ApiError
from orchestrator.store import Store

__all__ = [
    "ACTIVITY_ACTIONS",
    "DEFAULT_POLL_SECONDS",
    "MAX_ACTIVITIES",
    "MAX_POLLERS",
    "POLL_SECONDS_ENV",
    "Activities",
    "client_gone",
    "declare_activity_queues",
    "poll_seconds_from_env",
]

log = logging.getLogger(__name__)
ACTIVITY_ACTIONS = (
    "CreateActivity",
    "DescribeActivity",
    "DeleteActivity",
    "ListActivities",
    "GetActivityTask",
)
POLL_SECONDS_ENV = "SFN_ACTIVITY_POLL_SECONDS"
DEFAULT_POLL_SECONDS = 60.0  # AWS holds a GetActivityTask this long at most
# AWS's quotas: 1,000 pollers calling GetActivityTask per activity ARN (more are refused with
# ActivityWorkerLimitExceeded) and 10,000 registered activities by default (ActivityLimitExceeded).
MAX_POLLERS = 1000
MAX_ACTIVITIES = 10_000
# The pump's pause after an empty basic.get doubles from the first value up to the second:
# a busy queue is read back to back, an idle one costs a few gets a second.
FIRST_PAUSE_SECONDS = 0.05
IDLE_PAUSE_SECONDS = 0.4
GONE_CHECK_SECONDS = 1.0  # how often a waiting poll asks whether its client is still there
BROKER_SECONDS = 10.0  # to declare a queue before the action answers ServiceUnavailable
BROKER_RETRY_SECONDS = 1.0  # after a failed basic.get

# Set by the HTTP layer for each request: whether its client has disconnected.
client_gone: ContextVar[Callable[[], Awaitable[bool]] | None] = ContextVar(
    "client_gone", default=None
)


def poll_seconds_from_env(environ: Mapping[str, str] = os.environ) -> float:
    """``SFN_ACTIVITY_POLL_SECONDS`` (over 0, at most 60), else 60; ValueError when bad."""
    text = environ.get(POLL_SECONDS_ENV, "").strip()
    if not text:
        return DEFAULT_POLL_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= DEFAULT_POLL_SECONDS:  # NaN fails too
        raise ValueError(
            f"{POLL_SECONDS_ENV}={text!r}: expected the seconds GetActivityTask waits for a"
            f" task, over 0 and at most {DEFAULT_POLL_SECONDS:g} (AWS's)"
        )
    return seconds


async def declare_activity_queues(topology: Topology, store: Store) -> None:
    """Declare the queue of every stored activity (a broker that lost them gets them back
    before any task is published to one)."""
    for record in store.activities():
        await topology.work_queue(activity_queue(record.name))


@dataclass
class _Polls:
    """The pending GetActivityTask calls of one activity, longest-waiting first."""

    waiters: deque[asyncio.Future[DeliveredMessage]] = field(default_factory=deque)
    count: int = 0  # calls in progress, waiting or handing a task out
    pump: asyncio.Task[None] | None = None

    def waiting(self) -> bool:
        while self.waiters and self.waiters[0].done():  # timed out, gone or ended
            self.waiters.popleft()
        return bool(self.waiters)

    def next_waiter(self) -> asyncio.Future[DeliveredMessage] | None:
        return self.waiters.popleft() if self.waiting() else None

    def end(self) -> None:
        for waiter in self.waiters:
            waiter.cancel()
        self.waiters.clear()


class Activities:
    """The activity actions of a :class:`StepFunctionsApi` (its store, engine and broker)."""

    def __init__(self, api: StepFunctionsApi, *, poll_seconds: float | None = None) -> None:
        self.api = api
        self.store = api.store
        self.poll_seconds = poll_seconds if poll_seconds is not None else poll_seconds_from_env()
        self.topology = Topology(api.publisher.channel)  # declares on the publisher's channel
        self._changing = asyncio.Lock()  # create and delete, one at a time
        self._polls: dict[str, _Polls] = {}
        self._channel: aiormq.abc.AbstractChannel | None = None  # basic.get and acks
        self._opening = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self._handing = 0  # tasks being handed out now
        self._closed = False

    def handlers(self) -> dict[str, Handler]:
        """The actions served here, by name."""
        return {
            "CreateActivity": self.create_activity,
            "DescribeActivity": self.describe_activity,
            "DeleteActivity": self.delete_activity,
            "ListActivities": self.list_activities,
            "GetActivityTask": self.get_activity_task,
        }

    def arn(self, name: str) -> str:
        """``arn:aws:states:REGION:ACCOUNT:activity:NAME``."""
        account = self.api.account
        return f"arn:{account.partition}:states:{account.region}:{account.account}:activity:{name}"

    def _name(self, arn: str) -> str | None:
        """The activity ``arn`` names; None for one of another region or account. A malformed
        ARN or one of another resource type is AWS's InvalidArn."""
        names = self.api._names(arn, "activity", 1)
        return names[0] if names else None

    def _existing(self, arn: str) -> str:
        name = self._name(arn)
        if name is None or self.store.activity(name) is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return name

    async def _declare(self, name: str) -> None:
        """Declare the activity's queue (once per process; the robust channel restores it)."""
        try:
            await asyncio.wait_for(
                self.topology.work_queue(activity_queue(name)), timeout=BROKER_SECONDS
            )
        except Exception as exc:
            log.warning("declaring the queue of activity %s failed: %r", name, exc)
            raise ApiError(
                "ServiceUnavailable",
                f"The queue of activity '{name}' could not be declared on the message broker"
                " (is RabbitMQ reachable?); try again",
                503,
            ) from None

    # -- the resource --------------------------------------------------------------------------

    async def create_activity(self, params: Params) -> Params:
        """CreateActivity: idempotent by name (the same ARN and creationDate; the tags of a
        repeated create are ignored), as AWS's."""
        name: str = params["name"]
        if not _VALID_NAME.match(name):
            raise ApiError("InvalidName", f"Invalid Name: '{name}'")
        _check_encryption(params.get("encryptionConfiguration"))
        tags = _tags(params.get("tags", []))
        arn = self.arn(name)
        if len(tags) > MAX_TAGS:
            raise _too_many_tags(arn, len(tags))
        async with self._changing:
            if self.store.activity(name) is None and len(self.store.activities()) >= MAX_ACTIVITIES:
                raise ApiError(
                    "ActivityLimitExceeded",
                    f"The maximum number of activities ({MAX_ACTIVITIES}) has been reached:"
                    " delete activities before creating more",
                )
            # The queue first: once the activity exists, its tasks must have somewhere to go.
            await self._declare(name)
            with self.store.batch():
                record, new = self.store.create_activity(name)
                if new and tags:
                    self.store.set_tags(arn, tags)
        return {"activityArn": arn, "creationDate": record.created}

    async def describe_activity(self, params: Params) -> Params:
        """DescribeActivity; ActivityDoesNotExist for one never created or deleted."""
        name = self._existing(params["activityArn"])
        record = self.store.activity(name)
        assert record is not None
        return {
            "activityArn": self.arn(name),
            "name": name,
            "creationDate": record.created,
            "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
        }

    async def delete_activity(self, params: Params) -> Params:
        """DeleteActivity: 200 whether or not it existed, as AWS's. Its pending polls end
        (``{}``); tasks already on its queue stay for the executions that wait on them."""
        name = self._name(params["activityArn"])
        if name is None:
            return {}
        async with self._changing:
            arn = self.arn(name)
            with self.store.batch():
                if self.store.delete_activity(name):
                    self.store.set_tags(arn, {}, remove=list(self.store.tags(arn)))
        polls = self._polls.get(name)
        if polls is not None:
            polls.end()
        return {}

    async def list_activities(self, params: Params) -> Params:
        """ListActivities, by name, paginated as the other List actions."""
        records = self.store.activities()
        page, following = self.api.pages.page(records, params, {"action": "ListActivities"})
        answer: Params = {
            "activities": [
                {"activityArn": self.arn(r.name), "name": r.name, "creationDate": r.created}
                for r in page
            ]
        }
        if following:
            answer["nextToken"] = following
        return answer

    # -- GetActivityTask -----------------------------------------------------------------------

    async def get_activity_task(self, params: Params) -> Params:
        """GetActivityTask: a task of the activity, or ``{}`` after :attr:`poll_seconds`."""
        name = self._existing(params["activityArn"])
        worker: str | None = params.get("workerName")
        if self._closed:
            return {}
        polls = self._polls.setdefault(name, _Polls())
        if polls.count >= MAX_POLLERS:
            raise ApiError(
                "ActivityWorkerLimitExceeded",
                "The maximum number of workers concurrently polling for activity tasks has"
                f" been reached ({MAX_POLLERS} for '{params['activityArn']}')",
            )
        polls.count += 1
        try:
            await self._declare(name)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.poll_seconds
            gone = client_gone.get()
            while not self._closed:
                message = await self._wait(name, polls, deadline - loop.time(), gone)
                if message is None:
                    return {}
                task = await self._hand_out(name, message, worker, gone)
                if task is not None:
                    return task
            return {}
        finally:
            polls.count -= 1
            if polls.count == 0 and self._polls.get(name) is polls:
                del self._polls[name]

    async def _wait(
        self, name: str, polls: _Polls, seconds: float, gone: Callable[[], Awaitable[bool]] | None
    ) -> DeliveredMessage | None:
        """The next message the pump hands this poll; None when the time is up, the client
        has gone, or the poll was ended."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[DeliveredMessage] = loop.create_future()
        polls.waiters.append(waiter)
        if polls.pump is None or polls.pump.done():
            polls.pump = asyncio.create_task(self._pump(name, polls))
        deadline = loop.time() + seconds
        try:
            while not waiter.done():
                left = deadline - loop.time()
                if left <= 0:
                    break
                await asyncio.wait(
                    {waiter}, timeout=min(left, GONE_CHECK_SECONDS) if gone else left
                )
                if not waiter.done() and gone is not None and await gone():
                    break
        except BaseException:  # cancelled: a message handed over meanwhile goes back
            if waiter.done() and not waiter.cancelled():
                self._requeue_soon(waiter.result())
            waiter.cancel()
            raise
        if waiter.done() and not waiter.cancelled():
            return waiter.result()
        waiter.cancel()
        return None

    async def _pump(self, name: str, polls: _Polls) -> None:
        """Take the activity's messages while it has pollers, handing each to the first."""
        queue = activity_queue(name)
        pause = FIRST_PAUSE_SECONDS
        while polls.waiting() and not self._closed:
            try:
                channel = await self._get_channel()
                message = await channel.basic_get(queue, no_ack=False)
            except Exception as exc:  # a lost connection: the polls wait on, this retries
                log.warning("taking a task of activity %s failed (%r); retrying", name, exc)
                await self._drop_channel()
                await asyncio.sleep(BROKER_RETRY_SECONDS)
                continue
            if message.delivery_tag is None:  # Get-Empty
                await asyncio.sleep(pause)
                pause = min(pause * 2, IDLE_PAUSE_SECONDS)
                continue
            pause = FIRST_PAUSE_SECONDS
            waiter = polls.next_waiter()
            if waiter is None:  # its poller stopped waiting while the get was under way
                await _settle(Delivery(message), requeue=True)
            else:
                waiter.set_result(message)

    async def _hand_out(
        self,
        name: str,
        message: DeliveredMessage,
        worker: str | None,
        gone: Callable[[], Awaitable[bool]] | None,
    ) -> Params | None:
        """Start the task in ``message`` for ``worker`` and answer with it; None when the
        task no longer waits (dropped) or is not a task (dead-lettered): wait for another."""
        delivery = Delivery(message)
        settled = False
        self._handing += 1
        try:
            try:
                request = messages.IntegrationRequest.from_wire(message.body)
            except ValidationError as exc:
                log.error("activity %s: a message that is not a task is dead-lettered", name)
                await self.topology.dead_letter(
                    delivery, activity_queue(name), f"not an activity task: {exc}"
                )
                await _settle(delivery)
                settled = True
                return None
            if gone is not None and await gone():  # the next worker gets it
                await _settle(delivery, requeue=True)
                settled = True
                return {}
            started = messages.TaskStarted(task_token=request.task_token, worker_name=worker)
            ids = self.api.engine.apply(started)
            if ids is None:  # its execution ended, or the task timed out or moved on
                await _settle(delivery)
                settled = True
                return None
            await self.api._publish(ids)
            # Acked once ActivityStarted is committed: a crash before this hands it out again.
            await _settle(delivery)
            settled = True
            text = json.dumps(request.parameters, separators=(",", ":"), ensure_ascii=False)
            return {"taskToken": request.task_token, "input": text}
        finally:
            self._handing -= 1
            if not settled:  # a fault (or a cancel) before the task was settled: it goes back
                self._requeue_soon(message)

    # -- the channel ---------------------------------------------------------------------------

    async def _get_channel(self) -> aiormq.abc.AbstractChannel:
        """A channel of the publisher's connection for basic.get and acks alone: a fault on
        it (a queue deleted under it) closes it, never the service's own channel."""
        async with self._opening:
            if self._channel is None or self._channel.is_closed:
                underlay = await self.api.publisher.channel.get_underlay_channel()
                self._channel = await underlay.connection.channel(publisher_confirms=False)
            return self._channel

    async def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):  # closing it requeues what it held
                await channel.close()

    def _requeue_soon(self, message: DeliveredMessage) -> None:
        task = asyncio.get_running_loop().create_task(_settle(Delivery(message), requeue=True))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """End every pending GetActivityTask now (each answers ``{}``) and wait for no more:
        call it before stopping the API server, which waits for requests in flight."""
        self._closed = True
        pumps = [polls.pump for polls in self._polls.values() if polls.pump is not None]
        for polls in self._polls.values():
            polls.end()
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, *self._background, return_exceptions=True)
        for _ in range(100):  # a task being handed out is acked on the channel: let it finish
            if not self._handing:
                break
            await asyncio.sleep(0.01)
        await self._drop_channel()


async def _settle(delivery: Delivery, *, requeue: bool = False) -> None:
    """Ack ``delivery`` or, with ``requeue``, hand it back to its queue. When its channel
    has gone, the broker has given the message back already: nothing is lost."""
    try:
        if requeue:
            await delivery.nack(requeue=True)
        else:
            await delivery.ack()
    except Exception as exc:
        log.warning("settling an activity task on the broker failed (%r); it is redelivered", exc)


def _check_encryption(encryption: dict[str, Any] | None) -> None:
    """Only AWS-owned keys: there is no KMS here (customer keys are refused, not ignored)."""
    if encryption is not None and (
        encryption.get("type") != "AWS_OWNED_KEY"
        or encryption.keys() & {"kmsKeyId", "kmsDataKeyReusePeriodSeconds"}
    ):
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "Invalid Encryption Configuration: customer managed KMS keys are not supported by"
            " this engine; use type AWS_OWNED_KEY with no key",
        )
