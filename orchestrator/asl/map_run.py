"""Distributed Map: a Map Run whose items (or batches of them) run as child executions.

The parent execution's history shows the Map Run, not its iterations: ``MapStateStarted``,
``MapRunStarted`` (with the Map Run's ARN), then ``MapRunSucceeded`` or ``MapRunFailed``. Each
item becomes a child execution of the Map's ItemProcessor, named and addressed as AWS does
(``execution:<machine>/<label>:<uuid>``); its thread here waits on it as a task waits on a
worker, through a token. The shell starts the child (:class:`DispatchTask` with integration
``map-run``) and sends the child's end back as that token's result, so the 25,000-event cap
and the history belong to each child, and the parent keeps only the items still to start
and the results.

An ``ItemReader`` is an S3 call (``aws-sdk:s3``, or the shell's own read of an S3 Inventory)
made by the Map Run before any child starts; its answer is parsed by :mod:`.item_reader`, and
an ``ItemBatcher`` groups the items (:mod:`.item_batcher`). A ``ResultWriter`` is the shell's
write of the children's results to S3 once they are all done; the parent keeps none of them
then. A redrive of the parent resumes the Map Run under its ARN (``MapRunRedriven``) for the
items it has no result of. Pure, like the rest of the interpreter.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

from orchestrator.asl import bounds, flows, item_batcher, item_reader, tokens
from orchestrator.asl.definition import Distribution, MapState, Seconds, StateMachine
from orchestrator.asl.errors import StatesError
from orchestrator.asl.execution import DispatchTask, TaskSucceeded, Thread, UpdateMapRun
from orchestrator.asl.runtime_fields import StateRuntimeError

if TYPE_CHECKING:
    from orchestrator.asl.interpreter import _Run

# The Map Run's own calls to the shell (start a child, read an inventory, write the results):
# no Resource can name it.
INTEGRATION = "map-run"
READER_FAILED = "States.ItemReaderFailed"
WRITER_FAILED = "States.ResultWriterFailed"
THRESHOLD_EXCEEDED = "States.ExceedToleratedFailureThreshold"
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
MAX_CHILDREN = 10_000
# The largest object an ItemReader reads (its text travels to the Map Run in one message, and
# its items stay in the Map Run's state: AWS streams objects of gigabytes instead).
MAX_OBJECT_BYTES = 2 * 1024 * 1024


def start(run: _Run, thread: Thread, state: MapState) -> None:
    """Start the Map Run of ``state``: read or select its items, check its limits (a bad
    limit fails the state after MapStateStarted, as AWS records it), then start children."""
    distribution = state.distribution
    assert distribution is not None
    flow = flows.flow_of(state)
    items = [] if distribution.reader is not None else flow.map_items(run, thread, state)
    run.record("MapStateStarted", {"length": len(items)}, thread=thread)
    concurrency, tolerated = flow.map_limits(run, thread, state, len(items))
    # No more children run at once than AWS runs (its default for a Distributed Map too).
    thread.max_concurrency = min(concurrency or MAX_CHILDREN, MAX_CHILDREN)
    thread.tolerated_failures = tolerated or 0.0
    if distribution.reader is not None:  # a MaxItems that is no integer fails the state
        _, max_items = flow.reader_call(run, thread, state)
        try:
            item_reader.check_max_items(max_items, _path_text(distribution.reader.max_items))
        except StatesError as failure:
            raise StateRuntimeError(failure.cause) from None
    resumed = run.redriving(thread, state)
    if resumed:  # a redrive: the Map Run goes on, for the items it lacks
        thread.map_run = resumed
        details = {"mapRunArn": resumed, "redriveCount": run.base.redrive_count}
        run.record("MapRunRedriven", details, thread=thread)
    else:
        thread.map_run = _map_run_arn(run, distribution)
        run.record("MapRunStarted", {"mapRunArn": thread.map_run}, thread=thread)
    if distribution.reader is not None:
        thread.items = []
        _read(run, thread, state, None)
        return
    _run_items(run, thread, state, items)


def _read(run: _Run, thread: Thread, state: MapState, continuation: str | None) -> None:
    """Ask the shell for the reader's S3 call (a page of it, for a listing)."""
    distribution = state.distribution
    assert distribution is not None and distribution.reader is not None
    reader = distribution.reader
    arguments, _ = flows.flow_of(state).reader_call(run, thread, state)
    if not isinstance(arguments, dict):
        raise StatesError(READER_FAILED, "The ItemReader's parameters must be a JSON object.")
    if continuation is not None:
        arguments = {**arguments, "ContinuationToken": continuation}
    resource = f"arn:aws:states:::aws-sdk:s3:{reader.action}"
    if reader.config.get("InputType") == "MANIFEST":
        # An S3 Inventory: the manifest, then the gzipped data files it lists; the service
        # reads them (bytes, not an SDK call's JSON) and answers with the items.
        _call(run, thread, state, resource, INTEGRATION, "readManifest", arguments)
    elif reader.action == "getObject":
        # The service reads the object itself, to MAX_OBJECT_BYTES (an SDK call's result
        # would stop at a task's 256 KiB); it answers as getObject does ({"Body": text}).
        _call(run, thread, state, resource, INTEGRATION, "readObject", arguments)
    else:
        _call(run, thread, state, resource, "aws-sdk:s3", reader.action, arguments)


def items_read(run: _Run, thread: Thread, state: MapState, answer: Any) -> None:
    """The reader's S3 call answered: parse the items, then start the children."""
    distribution = state.distribution
    assert distribution is not None and distribution.reader is not None
    reader = distribution.reader
    run.end_task(thread)
    try:
        _, max_items = flows.flow_of(state).reader_call(run, thread, state)
        if reader.action == "listObjectsV2":
            found = item_reader.items_from_listing(answer if isinstance(answer, dict) else {})
            items = [*thread.items, *found]
            more = answer.get("NextContinuationToken") if isinstance(answer, dict) else None
            if isinstance(more, str) and more and len(items) < _limit(max_items):
                thread.items = items
                _read(run, thread, state, more)
                return
        elif reader.config.get("InputType") == "MANIFEST":
            listed = answer.get("Items") if isinstance(answer, dict) else None
            items = listed if isinstance(listed, list) else []
        else:
            body = answer.get("Body") if isinstance(answer, dict) else None
            text = body if isinstance(body, str) else ""
            if len(text.encode()) > MAX_OBJECT_BYTES:  # the target read no more than this
                raise StatesError(
                    READER_FAILED,
                    f"The S3 object is larger than {MAX_OBJECT_BYTES} bytes, the most an"
                    " ItemReader reads here (States.DataLimitExceeded).",
                )
            items = item_reader.items_from_object(text, reader.config)
        items = item_reader.limit_items(items, max_items, _path_text(reader.max_items))
    except StatesError as failure:
        failed(run, thread, state, StatesError(READER_FAILED, failure.cause))
        return
    # The percentage tolerated counts the items read.
    _, tolerated = flows.flow_of(state).map_limits(run, thread, state, len(items))
    thread.tolerated_failures = tolerated or 0.0
    _run_items(run, thread, state, items)


def writes_results(state: Any) -> bool:
    """Whether ``state`` is a Distributed Map whose results go to S3 (a ResultWriter)."""
    return (
        isinstance(state, MapState)
        and state.distribution is not None
        and state.distribution.writer is not None
    )


def write_results(run: _Run, thread: Thread, state: MapState) -> None:
    """Every child is done: ask the shell to write the Map Run's results to S3, as AWS lays
    them out (a manifest, and a file of the children of each status)."""
    distribution = state.distribution
    assert distribution is not None and distribution.writer is not None
    assert thread.map_run is not None
    try:
        arguments = flows.flow_of(state).writer_call(run, thread, state)
        if not isinstance(arguments, dict) or not isinstance(arguments.get("Bucket"), str):
            raise StatesError(WRITER_FAILED, "The ResultWriter needs a Bucket (a string).")
    except StatesError as failure:
        failed(run, thread, state, failure)
        return
    parameters = {
        "MapRunArn": thread.map_run,
        "Bucket": arguments["Bucket"],
        "Prefix": str(arguments.get("Prefix") or ""),
        "WriterConfig": distribution.writer.config,
    }
    _call(run, thread, state, thread.map_run, INTEGRATION, "writeResults", parameters)


def results_written(run: _Run, thread: Thread, state: MapState, answer: Any) -> None:
    """The results are in S3: the Map state's result is where (ResultWriterDetails)."""
    run.end_task(thread)
    succeeded(run, thread)
    run.record("MapStateSucceeded", thread=thread)
    thread.results, thread.items = None, []
    try:
        run.finish_recoverable(thread, state, answer)
    except StatesError as failure:
        run.state_failed(thread, state, failure)


def answered(run: _Run, thread: Thread, state: MapState, event: Any) -> None:
    """The Map Run's own call answered: its item reader, or its result writer (once its
    children are all set aside)."""
    writing = bool(thread.first_child)
    if isinstance(event, TaskSucceeded):
        if writing:
            results_written(run, thread, state, event.output)
        else:
            items_read(run, thread, state, event.output)
    elif writing:
        run.end_task(thread)
        failed(run, thread, state, StatesError(WRITER_FAILED, _detail(event.error, event.cause)))
    else:
        read_failed(run, thread, state, event.error, event.cause)


def _detail(error: str | None, cause: str | None) -> str:
    return f"{error}: {cause}" if error and cause else (cause or error or "")


def read_failed(
    run: _Run, thread: Thread, state: MapState, error: str | None, cause: str | None
) -> None:
    """The reader's S3 call failed: so does the Map Run."""
    run.end_task(thread)
    failed(run, thread, state, StatesError(READER_FAILED, _detail(error, cause)))


def _path_text(spec: Seconds | None) -> str | None:
    return spec.path.text if spec is not None and spec.path is not None else None


def _limit(max_items: Any) -> int:
    if isinstance(max_items, int) and not isinstance(max_items, bool) and max_items > 0:
        return max_items
    return item_reader.MAX_ITEMS


def _run_items(run: _Run, thread: Thread, state: MapState, items: list[Any]) -> None:
    distribution = state.distribution
    assert distribution is not None
    if distribution.batcher is not None and items:
        try:
            max_items, max_bytes, batch_input = flows.flow_of(state).batcher_fields(
                run, thread, state
            )
            items = item_batcher.batches(items, max_items, max_bytes, batch_input)
        except StatesError as failure:
            failed(run, thread, state, failure)
            return
    run.begin_items(thread, state, items)


def start_child(run: _Run, thread: Thread, state: MapState) -> bool:
    """Start the next item's child execution; False when its ItemSelector failed the Map."""
    distribution = state.distribution
    assert distribution is not None and thread.map_run is not None
    index = thread.next_item
    thread.next_item += 1
    run.work_done += 1  # a start is work too: a step starts a bounded number of them
    try:
        item = flows.flow_of(state).map_item(run, thread, state, index, thread.items[index])
        bounds.json_text(item)
    except StatesError as failure:
        failed(run, thread, state, failure)
        return False
    name = child_name(thread.map_run, index, run.base.redrive_count)
    child = Thread(
        id=thread.first_child + index,
        scope=state.iterator,
        parent=thread.id,
        index=index,
        child=True,
        job=child_arn(thread.map_run, name),
        last_event=thread.last_event,
    )
    run.threads[child.id] = child
    run.copied[child.id] = child
    parameters = {
        "MapRunArn": thread.map_run,
        "Name": name,
        "Index": index,
        "Scope": state.iterator,
        "ExecutionType": distribution.execution_type,
        "Input": item,
    }
    _call(run, child, state, thread.map_run, INTEGRATION, "startExecution", parameters)
    return True


def _call(
    run: _Run,
    thread: Thread,
    state: MapState,
    resource: str,
    service: str,
    action: str,
    parameters: dict[str, Any],
) -> None:
    """Ask the shell for one of the Map Run's calls; ``thread`` waits on its answer (an S3
    call through the aws target, or the Map Run's own: ``service`` INTEGRATION)."""
    thread.token = tokens.task_token(run.base.token_prefix, run.next_seq())
    thread.attempt = 0
    run.tokens[thread.token] = thread.id
    run.commands.append(
        DispatchTask(
            thread.token,
            0,
            "",
            resource,
            state.name,
            None,
            integration=INTEGRATION if service == INTEGRATION else "service",
            service=service,
            action=action,
            region=run.region,
            parameters=parameters,
        )
    )


def child_failed(
    run: _Run, parent: Thread, state: MapState, child: Thread, error: str | None, cause: str | None
) -> None:
    """A child execution failed: tolerated, or the Map Run fails."""
    parent.failed += 1
    tolerated = parent.tolerated_failures or 0.0
    if parent.failed <= tolerated:
        if not writes_results(state):
            result = {"Error": error, "Cause": cause}
            run.keep_result(parent, child.index, result, bounds.json_size(result))
        run.after_item(parent, state)
        return
    failed(run, parent, state, StatesError(THRESHOLD_EXCEEDED, THRESHOLD_CAUSE))


def failed(run: _Run, thread: Thread, state: MapState, failure: StatesError) -> None:
    """The Map Run fails: its running children are stopped, then the Map state fails."""
    run.abort_children(thread, state)
    if thread.token is not None:
        run.end_task(thread)
    details: dict[str, Any] = {}
    if failure.error:
        details["error"] = failure.error
    if failure.cause:
        details["cause"] = failure.cause
    run.record("MapRunFailed", details or None, thread=thread)
    run.record("MapStateFailed", thread=thread)
    run.failed_map_run, thread.map_run = thread.map_run, None
    run.state_failed(thread, state, failure)


def succeeded(run: _Run, thread: Thread) -> None:
    """Every child is done within the tolerated failures."""
    run.record("MapRunSucceeded", thread=thread)
    thread.map_run = None


def running(run: _Run, arn: str) -> Thread | None:
    """The Map state's thread running Map Run ``arn``, if it still runs."""
    for thread_id in run.threads:
        thread = run.threads[thread_id]
        if thread.map_run == arn:
            return thread
    return None


def update(run: _Run, event: UpdateMapRun) -> None:
    """UpdateMapRun on a running Map Run: new limits apply to the children not yet started
    (more start at once when the concurrency rises) and to the failures still to come."""
    found = running(run, event.map_run)
    assert found is not None
    thread = run.thread(found.id)
    state = run.scope_state(thread)
    assert isinstance(state, MapState)
    if event.max_concurrency is not None:
        thread.max_concurrency = min(event.max_concurrency or MAX_CHILDREN, MAX_CHILDREN)
    count = len(thread.items)
    tolerated: float | None = None
    if event.tolerated_count is not None:
        tolerated = float(event.tolerated_count)
    if event.tolerated_percentage is not None:
        limit = count * event.tolerated_percentage / 100
        tolerated = limit if tolerated is None else min(tolerated, limit)
    if tolerated is not None:
        thread.tolerated_failures = tolerated
    if thread.first_child and thread.token is None:  # its items are known: start more
        running_now = thread.next_item - thread.done - thread.failed
        limit = thread.max_concurrency or count
        while thread.next_item < count and running_now < limit:
            if not start_child(run, thread, state):
                return
            running_now += 1


def child_machine(machine: StateMachine, parameters: Any) -> StateMachine:
    """The machine a child execution runs: the Map's ItemProcessor as the top level (its
    nested scopes keep their ids), named ``<machine>/<label>`` like AWS's child executions."""
    assert isinstance(parameters, dict)
    scope = int(parameters["Scope"])
    return dataclasses.replace(
        machine,
        name=machine_name(str(parameters["MapRunArn"])),
        scopes=(machine.scopes[scope], *machine.scopes[1:]),
        timeout_seconds=None,
        type="EXPRESS" if parameters.get("ExecutionType") == "EXPRESS" else "STANDARD",
    )


def child_name(map_run: str, index: int, redrive: int = 0) -> str:
    """Child ``index``'s execution name: the same for every start of it (a redelivered start
    finds the child it made), a new one in each redrive of the parent, and a UUID as AWS's
    are."""
    key = f"{map_run}#{index}" + (f"#{redrive}" if redrive else "")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def child_arn(map_run: str, name: str) -> str:
    """A child execution's ARN: ``execution:<machine>/<label>:<name>`` beside its Map Run's."""
    prefix = map_run.replace(":mapRun:", ":execution:", 1).rsplit(":", 1)[0]
    return f"{prefix}:{name}"


def machine_name(map_run: str) -> str:
    """The ``<machine>/<label>`` its children run as."""
    return map_run.split(":mapRun:", 1)[1].rsplit(":", 1)[0]


def _map_run_arn(run: _Run, distribution: Distribution) -> str:
    parts = run.base.execution_arn.split(":")
    partition, region, account = (
        (parts[1], parts[3], parts[4]) if len(parts) > 4 else ("aws", "", "")
    )
    machine = run.base.state_machine_name.split("/", 1)[0]
    run_id = str(uuid.UUID(int=run.draw().getrandbits(128), version=4))
    # AWS makes up a label when the definition gives none.
    label = distribution.label or run_id.split("-", 1)[0]
    return f"arn:{partition}:states:{region}:{account}:mapRun:{machine}/{label}:{run_id}"
