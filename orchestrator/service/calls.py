"""The calls queue: service calls the orchestrator makes itself (mocked tasks, ``aws`` routes).

The engine commits a call as an outbox message to ``orchestrator.calls``, like a task for a
worker; this consumer carries it out in a thread (botocore is synchronous), publishes its
results to the task-results queue with confirms, then acks. A crash in between redelivers
the call, which is made again (at least once, as AWS's own retries of a call may be); the
engine applies a (token, attempt) result once. A bad message is dead-lettered with its reason.

A ``.sync`` job of the ``aws`` target is run in steps, so that no delivery stays unacked (nor
thread held) for longer than one call, whatever the job's length (RabbitMQ's
``consumer_timeout`` would close the channel, and the call would come back and start the job
again): the request starts the job, publishes TaskSubmitted and the first
:class:`messages.JobPoll` to a delay queue, then is acked. The poll comes back to this queue
when its delay is over: if the task still waits for the job (the engine, in this process,
says), one describe call either answers the task or publishes the next poll, with the
backoff of :mod:`~orchestrator.integrations.aws.jobs`; if not (the task timed out, the
execution ended), the job is asked to stop, as AWS does. Each is acked once the next message
is confirmed. A crash may at worst repeat one step (a start whose poll was not yet published:
the job starts again; a poll whose successor was published: two polls of the job go on, their
duplicate results dropped by the engine).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aio_pika.abc import AbstractRobustChannel
from pydantic import ValidationError

import messages
from broker import TASK_RESULTS_QUEUE, Delivery, Topology, oversized, publish_json
from broker.topology import CALLS_QUEUE
from orchestrator.asl import errors
from orchestrator.asl.errors import StatesError
from orchestrator.asl.resources import function_name_of
from orchestrator.engine import Engine
from orchestrator.integrations import map_run_io, nested, result_writer
from orchestrator.integrations.answers import failed, internal_failure
from orchestrator.integrations.aws.jobs import JobPending, next_poll_delay
from orchestrator.integrations.rabbitmq_target import RabbitMqTarget
from orchestrator.integrations.targets import Targets

log = logging.getLogger(__name__)
# A Map Run's own S3 reads and writes go to the aws target's S3 (see SFN_INTEGRATIONS).
_NO_S3 = "S3 calls are routed to no aws target here (see SFN_INTEGRATIONS)"
# Calls carried out at once; each holds a thread while its service answers.
MAX_CONCURRENT_CALLS = 32
# The first poll of a .sync job, as Step Functions' (it then backs off to a minute).
DEFAULT_JOB_POLL_SECONDS = 5.0


class Calls:
    """Consumes :data:`CALLS_QUEUE` and answers each call on the task-results queue.

    Nested executions (``states:startExecution``) start in the engine, here on the event
    loop as the API starts executions; the rabbitmq target publishes on its own channel;
    every other call runs in a thread, and an ``aws`` ``.sync`` job in steps of one call
    (see the module's docstring).
    """

    def __init__(
        self,
        targets: Targets,
        topology: Topology,
        engine: Engine,
        publish: Callable[[list[int]], Awaitable[None]],
        rabbit_channel: AbstractRobustChannel | None = None,
        job_poll_seconds: float = DEFAULT_JOB_POLL_SECONDS,
    ) -> None:
        self.targets = targets
        # A .sync job's first poll comes this long after its start; then half as long again
        # each time, up to a minute (SFN_JOB_POLL_SECONDS, small in tests).
        self.job_poll_seconds = job_poll_seconds
        self.topology = topology
        self.engine = engine
        self.publish = publish
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CALLS)
        self._rabbit_channel = rabbit_channel
        self._rabbit: RabbitMqTarget | None = None

    async def on_call(self, message: Delivery) -> None:
        """Carry out one call, or one poll of a job; see the module's docstring."""
        reason = oversized(message.body)
        call: messages.AnyCall | None = None
        if reason is None:
            try:
                call = messages.parse_call(message.body)
            except (ValidationError, ValueError) as exc:
                reason = f"body is not an IntegrationRequest or a JobPoll: {exc}"[:2000]
        if call is None:
            reason = reason or "body is not a call"
            log.warning("dead-lettering a message of %s: %s", CALLS_QUEUE, reason)
            await self.topology.dead_letter(message, CALLS_QUEUE, reason)
            await message.ack()
            return
        if isinstance(call, messages.JobPoll):
            await self._poll_job(message, call)
            return
        request = call
        if self.targets.runs_job(request):
            await self._start_job(message, request)
            return
        results: list[messages.AnyTaskResult] | None
        ids: list[int] = []
        mocked = self.targets.mock is not None and self.targets.mock.claims(request)
        target = None if mocked else self._target(request)
        if target == "rabbitmq":
            results = await (await self._rabbit_target()).call(request)
        elif request.integration == "map-run" and request.action == "writeResults":
            results = [await self._write_results(request)]
        elif request.integration == "map-run" and request.action != "startExecution":
            async with self._slots:  # an ItemReader's own read (an object, an S3 Inventory)
                results = [await asyncio.to_thread(self._map_run_read, request)]
        elif request.integration == "map-run":
            try:
                results, ids = [], self.engine.start_map_child(request)
            except Exception as exc:  # a fault of ours: the item fails, the service goes on
                log.exception("starting a Map Run's child of %s failed", request.execution_arn)
                results, ids = [internal_failure(request, exc)], []
        elif nested.is_nested(request) and target == "engine":
            try:
                results, ids = self.engine.start_nested(request)
            except Exception as exc:  # a fault of ours: the task fails, the service goes on
                log.exception("starting the nested execution of %s failed", request.execution_arn)
                results, ids = [internal_failure(request, exc)], []
        else:
            loop = asyncio.get_running_loop()

            def emit(result: messages.AnyTaskResult) -> None:  # from the call's thread
                asyncio.run_coroutine_threadsafe(
                    self._answer(message, request, result), loop
                ).result()

            async with self._slots:
                results = await asyncio.to_thread(self.targets.call, request, emit)
        if results is None:
            results = [
                failed(
                    request,
                    errors.RUNTIME,
                    f"No target carries {request.resource} in this orchestrator yet",
                )
            ]
        for result in results:
            await self._answer(message, request, result)
        # The child's own messages after the parent's TaskSubmitted: a child that ends in its
        # first step sends its end to the parent's task, which must come second.
        await self.publish(ids)
        await message.ack()

    def _map_run_read(self, request: messages.IntegrationRequest) -> messages.AnyTaskResult:
        """A Distributed Map's ItemReader object or S3 Inventory, read through the aws
        target's S3 (as bytes, to its own bound)."""
        parameters = request.parameters
        assert isinstance(parameters, dict)
        caller = self.targets.s3()
        try:
            if caller is None:
                raise StatesError(map_run_io.READER_FAILED, _NO_S3)
            if request.action == "readObject":
                output = map_run_io.object_text(caller, parameters, request.region)
            else:
                output = {"Items": map_run_io.manifest_items(caller, parameters, request.region)}
        except StatesError as failure:
            return failed(request, failure.error, failure.cause)
        return messages.TaskSucceeded(
            task_token=request.task_token, attempt=request.attempt, output=output
        )

    async def _write_results(self, request: messages.IntegrationRequest) -> messages.AnyTaskResult:
        """A Distributed Map's ResultWriter: its children's results put in S3, a page of
        children at a time (the store is read here, on the event loop; S3 in a thread), so
        what is held is bounded however many children there were; the manifest last."""
        parameters = request.parameters
        assert isinstance(parameters, dict)
        caller = self.targets.s3()
        if caller is None:
            return failed(request, map_run_io.WRITER_FAILED, _NO_S3)
        arn, region = str(parameters["MapRunArn"]), request.region
        written = result_writer.ResultFiles(parameters)
        after = 0
        try:
            while True:
                page, after = self.engine.store.map_run_children(arn, after)
                for key, body in written.add(page) if page else written.finish():
                    async with self._slots:
                        await asyncio.to_thread(
                            map_run_io.write_file, caller, parameters, key, body, region
                        )
                if not page:
                    break
        except StatesError as failure:
            return failed(request, failure.error, failure.cause)
        return messages.TaskSucceeded(
            task_token=request.task_token,
            attempt=request.attempt,
            output=result_writer.details(parameters),
        )

    # -- a .sync job, one step per message ---------------------------------------------------

    async def _start_job(self, message: Delivery, request: messages.IntegrationRequest) -> None:
        """Start the job; TaskSubmitted and its first poll (or the task's failure), then ack."""
        async with self._slots:
            started = await asyncio.to_thread(self.targets.start_job, request)
        await self._answer(message, request, started)
        if isinstance(started, messages.TaskSubmitted):
            first = self.job_poll_seconds
            poll = messages.JobPoll(
                request=request,
                submitted=started.output,
                next_delay_seconds=next_poll_delay(first, self.job_poll_seconds),
            )
            await self._publish_poll(message, poll, first)
        await message.ack()

    async def _poll_job(self, message: Delivery, poll: messages.JobPoll) -> None:
        """One poll: stop the job when its task no longer waits, else describe it once and
        answer the task or publish the next poll; then ack."""
        request = poll.request
        if not self._still_waits(request):
            log.info(
                "the task of %s (%s) no longer waits for its job; stopping it",
                request.execution_arn,
                request.state_name,
            )
            async with self._slots:
                await asyncio.to_thread(self.targets.stop_job, request, poll.submitted)
            await message.ack()
            return
        async with self._slots:
            progress = await asyncio.to_thread(
                self.targets.poll_job, request, poll.submitted, poll.misses
            )
        if isinstance(progress, JobPending):
            delay = poll.next_delay_seconds
            following = poll.model_copy(
                update={
                    "polls": poll.polls + 1,
                    "misses": progress.misses,
                    "next_delay_seconds": next_poll_delay(delay, self.job_poll_seconds),
                }
            )
            await self._publish_poll(message, following, delay)
        else:
            await self._answer(message, request, progress)
        await message.ack()

    def _still_waits(self, request: messages.IntegrationRequest) -> bool:
        """Whether ``request``'s task still waits for its job: its execution runs, and the
        task's token is in flight at the request's attempt (not timed out, not retried)."""
        record = self.engine.store.execution_by_arn(request.execution_arn)
        if record is None or record.state.status != "RUNNING":
            return False
        thread = record.state.threads.get(record.state.tokens.get(request.task_token, -1))
        return (
            thread is not None
            and thread.token == request.task_token
            and thread.attempt == request.attempt
        )

    async def _publish_poll(self, message: Delivery, poll: messages.JobPoll, delay: float) -> None:
        """Publish ``poll`` to the delay queue of ``delay`` seconds, with a confirm."""
        queue = await self.topology.calls_delay_queue(delay)
        routed = await publish_json(
            message.channel,
            poll.to_wire(),
            routing_key=queue.name,
            correlation_id=poll.request.task_token,
        )
        if not routed:  # the queue was deleted under us: leave the message unacked
            raise RuntimeError(f"the delay queue {queue.name} is gone; the poll was not sent")

    def _target(self, request: messages.IntegrationRequest) -> str:
        route = self.targets.routing.route(
            request.integration,
            request.service,
            request.action,
            request.pattern,
            function_name_of(request.resource),
        )
        return route.target

    async def _rabbit_target(self) -> RabbitMqTarget:
        """The rabbitmq target on the current channel (a reopened channel gets a new one)."""
        if self._rabbit_channel is None:
            raise RuntimeError("the rabbitmq target has no channel")
        underlay = await self._rabbit_channel.get_underlay_channel()
        if self._rabbit is None or self._rabbit.channel is not underlay:
            self._rabbit = RabbitMqTarget(underlay, Topology(self._rabbit_channel))
        return self._rabbit

    @staticmethod
    async def _answer(
        message: Delivery, request: messages.IntegrationRequest, result: messages.AnyTaskResult
    ) -> None:
        # The call's reply address: an EXPRESS execution's is the queue of the orchestrator
        # holding it in memory (see store.routed); a job's poll has none.
        await publish_json(
            message.channel,
            result.to_wire(),
            routing_key=message.reply_to or TASK_RESULTS_QUEUE,
            correlation_id=request.task_token,
        )
