"""The engine on a real SQLite file: idempotent starts, the outbox, duplicate results dropped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import messages
from broker.topology import EXECUTIONS_EXCHANGE, TASK_RESULTS_QUEUE, function_queue
from orchestrator.asl import interpreter
from orchestrator.definitions import load_definitions
from orchestrator.engine import Engine, StartRejected
from orchestrator.store import OutboxMessage, SqliteStore
from orchestrator.store.express.routed import RoutedStore
from orchestrator.store.postgres.store import PostgresStore

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SqliteStore:
    """The engine's store: each test runs on the SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "sfn.db")
    return PostgresStore(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(store: SqliteStore) -> Engine:
    # The status-change events are tested on their own below; here the outbox holds the rest.
    return Engine(load_definitions(DEFINITIONS), store, status_events=False)


def intake(name: str | None = "case-1", **extra: object) -> messages.IntakeRequest:
    return messages.IntakeRequest(
        state_machine="CallCenterStateMachine",
        execution_name=name,
        input={"inputCaseID": "001", **extra},
        reply_to="client.replies",
        correlation_id="c-1",
    )


def only_request(store: SqliteStore, ids: list[int]) -> messages.TaskRequest:
    (row,) = store.outbox_messages(ids)
    assert row.exchange == "" and row.reply_to == TASK_RESULTS_QUEUE
    request = messages.TaskRequest.from_wire(row.body)
    assert row.routing_key == function_queue(request.function_name)
    assert row.correlation_id == request.task_token
    return request


def test_start_commits_the_first_task_request_to_the_outbox(
    engine: Engine, store: SqliteStore
) -> None:
    ids = engine.start(intake())
    request = only_request(store, ids)
    assert request.function_name == "OpenCaseFunction"
    assert request.state_name == "Open Case"
    assert request.payload == {"inputCaseID": "001"}
    assert request.execution_arn.endswith(":execution:CallCenterStateMachine:case-1")
    history = store.history(request.execution_arn)
    assert [e["type"] for e in history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
    ]


def test_the_same_start_twice_is_one_execution(engine: Engine, store: SqliteStore) -> None:
    first = engine.start(intake())
    assert engine.start(intake()) == []
    assert len(store.executions()) == 1
    assert len(store.pending_outbox()) == len(first)


def test_the_same_name_with_another_input_is_refused(engine: Engine) -> None:
    engine.start(intake())
    with pytest.raises(StartRejected, match="ExecutionAlreadyExists"):
        engine.start(intake(other=True))


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (messages.IntakeRequest(state_machine="Nope", input={}), "StateMachineDoesNotExist"),
        (intake("bad name"), "InvalidName"),
    ],
)
def test_bad_starts_are_refused_with_aws_error_names(
    engine: Engine, request_: messages.IntakeRequest, error: str
) -> None:
    with pytest.raises(StartRejected, match=error):
        engine.start(request_)


def test_results_drive_the_execution_to_a_published_result(
    engine: Engine, store: SqliteStore
) -> None:
    request = only_request(store, engine.start(intake()))
    store.delete_outbox(row.id for row in store.pending_outbox())
    outputs = {
        "OpenCaseFunction": {"Case": "001", "Message": "Case 001: opened..."},
        "AssignCaseFunction": {"Case": "001", "Message": "Case 001: opened...assigned..."},
        "WorkOnCaseFunction": {
            "Case": "001",
            "Status": 1,
            "Message": "Case 001: opened...assigned...resolved...",
        },
        "CloseCaseFunction": {
            "Case": "001",
            "Status": 1,
            "Message": "Case 001: opened...assigned...resolved...closed.",
        },
    }
    while True:
        result = messages.TaskSucceeded(
            task_token=request.task_token, attempt=0, output=outputs[request.function_name]
        )
        ids = engine.apply(result)
        assert ids
        rows = store.outbox_messages(ids)
        store.delete_outbox(ids)
        if rows[0].exchange == EXECUTIONS_EXCHANGE:
            break
        request = messages.TaskRequest.from_wire(rows[0].body)
    published, replied = rows
    assert published.routing_key == "CallCenterStateMachine.SUCCEEDED"
    assert (replied.exchange, replied.routing_key, replied.correlation_id) == (
        "",
        "client.replies",
        "c-1",
    )
    body = json.loads(published.body)
    assert body["status"] == "SUCCEEDED"
    assert body["output"]["Message"] == "Case 001: opened...assigned...resolved...closed."
    assert "error" not in body and "cause" not in body
    assert engine.apply(result) is None  # the last result again: a duplicate, dropped


def test_a_duplicate_result_is_applied_once(engine: Engine, store: SqliteStore) -> None:
    request = only_request(store, engine.start(intake()))
    result = messages.TaskSucceeded(
        task_token=request.task_token, attempt=0, output={"Case": "001", "Message": "m"}
    )
    assert engine.apply(result)
    assert engine.apply(result) is None
    history = store.history(request.execution_arn)
    assert [e["type"] for e in history].count("LambdaFunctionSucceeded") == 1


def test_a_failed_task_maps_lambda_errors(engine: Engine, store: SqliteStore) -> None:
    request = only_request(store, engine.start(intake()))
    failure = messages.TaskFailed(
        task_token=request.task_token,
        attempt=0,
        error_type="KeyError",
        error_message="'Case'",
        stack_trace=["  File x"],
    )
    ids = engine.apply(failure)
    rows = store.outbox_messages(ids or [])
    body = json.loads(rows[0].body)
    assert body["status"] == "FAILED"
    assert body["error"] == "KeyError"
    assert json.loads(body["cause"]) == {
        "errorMessage": "'Case'",
        "errorType": "KeyError",
        "stackTrace": ["  File x"],
    }


def test_the_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sfn.db"
    first = Engine(load_definitions(DEFINITIONS), SqliteStore(path), status_events=False)
    request = only_request(first.store, first.start(intake()))  # type: ignore[arg-type]
    first.store.close()
    reopened = SqliteStore(path)
    again = Engine(load_definitions(DEFINITIONS), reopened, status_events=False)
    assert reopened.pending_outbox()  # the unsent request is still there to publish
    ids = again.apply(
        messages.TaskSucceeded(
            task_token=request.task_token, attempt=0, output={"Case": "001", "Message": "m"}
        )
    )
    assert (
        messages.TaskRequest.from_wire(reopened.outbox_messages(ids or [])[0].body).function_name
        == "AssignCaseFunction"
    )


def test_variables_survive_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "sfn.db"
    first = Engine(load_definitions(DEFINITIONS), SqliteStore(path), status_events=False)
    start = intake(name="jsonata-1").model_copy(update={"state_machine": "CallCenterJsonata"})
    request = only_request(first.store, first.start(start))  # type: ignore[arg-type]
    ids = first.apply(
        messages.TaskSucceeded(
            task_token=request.task_token, attempt=0, output={"Case": "K9", "Message": "m"}
        )
    )  # Open Case assigns $caseId
    request = messages.TaskRequest.from_wire(first.store.outbox_messages(ids or [])[0].body)
    first.store.close()
    reopened = SqliteStore(path)
    again = Engine(load_definitions(DEFINITIONS), reopened, status_events=False)
    outputs = {
        "AssignCaseFunction": {"Case": "K9", "Message": "m"},
        "WorkOnCaseFunction": {"Case": "K9", "Status": 0, "Message": "m"},
        "EscalateCaseFunction": {"Case": "K9", "Status": 0, "Message": "m"},
    }
    while True:
        ids = again.apply(
            messages.TaskSucceeded(
                task_token=request.task_token,
                attempt=0,
                output=outputs[request.function_name],
            )
        )
        rows = reopened.outbox_messages(ids or [])
        if rows[0].reply_to != TASK_RESULTS_QUEUE:  # no task request: the execution ended
            break
        request = messages.TaskRequest.from_wire(rows[0].body)
    body = json.loads(rows[0].body)
    assert (body["status"], body["error"], body["cause"]) == (
        "FAILED",
        "CaseEscalated",
        "Case K9: engage Tier 2 Support.",  # $caseId, assigned before the store was reopened
    )


def finish_escalated(engine: Engine, store: SqliteStore, ids: list[int]) -> list[OutboxMessage]:
    """Drive the started execution down the escalation path to its end; the messages its
    last step sent (taken from the outbox)."""
    outputs = {
        "OpenCaseFunction": {"Case": "001", "Message": "m"},
        "AssignCaseFunction": {"Case": "001", "Message": "m"},
        "WorkOnCaseFunction": {"Case": "001", "Status": 0, "Message": "m"},
        "EscalateCaseFunction": {"Case": "001", "Status": 0, "Message": "m"},
    }
    rows = store.outbox_messages(ids)
    while rows and rows[0].exchange == "":
        request = messages.TaskRequest.from_wire(rows[0].body)
        store.delete_outbox(r.id for r in rows)
        result = messages.TaskSucceeded(
            task_token=request.task_token, attempt=0, output=outputs[request.function_name]
        )
        rows = store.outbox_messages(engine.apply(result) or [])
    store.delete_outbox(r.id for r in rows)
    return rows


def test_a_new_asker_of_a_finished_execution_gets_its_result(
    engine: Engine, store: SqliteStore
) -> None:
    finish_escalated(engine, store, engine.start(intake()))
    assert engine.start(intake()) == []  # a redelivery of the same message: nothing to send
    again = messages.IntakeRequest(
        state_machine="CallCenterStateMachine",
        execution_name="case-1",
        input={"inputCaseID": "001"},
        reply_to="another.client",
        correlation_id="c-2",
    )
    (row,) = store.outbox_messages(engine.start(again))
    assert (row.exchange, row.routing_key, row.correlation_id) == ("", "another.client", "c-2")
    body = json.loads(row.body)
    assert (body["status"], body["cause"]) == ("FAILED", "Engage Tier 2 Support.")
    assert len(store.executions()) == 1


def test_askers_of_a_running_execution_all_get_its_result(
    engine: Engine, store: SqliteStore
) -> None:
    first = engine.start(intake())
    others = [
        messages.IntakeRequest(
            state_machine="CallCenterStateMachine",
            execution_name="case-1",
            input={"inputCaseID": "001"},
            reply_to=f"client.{i}",
            correlation_id=f"c-{i}",
        )
        for i in (2, 3)
    ]
    for other in others + others:  # each asks twice (a redelivery): answered once
        assert engine.start(other) == []
    rows = finish_escalated(engine, store, first)
    answered = sorted((r.routing_key, r.correlation_id) for r in rows if r.exchange == "")
    assert answered == [("client.2", "c-2"), ("client.3", "c-3"), ("client.replies", "c-1")]
    assert {json.loads(r.body)["status"] for r in rows} == {"FAILED"}
    assert store.waiters(store.executions()[0].execution_arn) == []


def test_a_running_execution_keeps_the_definition_it_started_with(tmp_path: Path) -> None:
    path = tmp_path / "sfn.db"
    first = Engine(load_definitions(DEFINITIONS), SqliteStore(path), status_events=False)
    request = only_request(first.store, first.start(intake()))  # type: ignore[arg-type]
    first.store.close()
    # The folder changes while the execution waits: Assign Case is renamed.
    changed = tmp_path / "definitions"
    changed.mkdir()
    text = (DEFINITIONS / "CallCenterStateMachine.asl.json").read_text()
    (changed / "CallCenterStateMachine.asl.json").write_text(text.replace("Assign Case", "Triage"))
    store = SqliteStore(path)
    restarted = Engine(load_definitions(changed), store, status_events=False)
    ids = restarted.apply(
        messages.TaskSucceeded(
            task_token=request.task_token, attempt=0, output={"Case": "001", "Message": "m"}
        )
    )
    following = messages.TaskRequest.from_wire(store.outbox_messages(ids or [])[0].body)
    assert following.state_name == "Assign Case"  # the old definition's state
    assert restarted.start(intake("case-2")) is not None  # new executions use the new one
    new = [m for m in store.pending_outbox() if b"case-2" in m.body]
    assert new


def test_a_version_1_database_upgrades_itself(tmp_path: Path) -> None:
    import sqlite3

    from orchestrator.store import schema as store_module

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.executescript(store_module.MIGRATIONS[1] + "; PRAGMA user_version=1;")
        old.execute(
            "INSERT INTO executions (arn, state_machine, name, status, input, state, task_token,"
            " start_date) VALUES ('arn:e', 'M', 'e', 'RUNNING', '{}', '{}', 'tok-1', 'now')"
        )
    upgraded = SqliteStore(path)
    assert upgraded._db.execute("PRAGMA user_version").fetchone() == (store_module.SCHEMA_VERSION,)
    assert upgraded._db.execute("SELECT token, execution_arn FROM tasks").fetchall() == [
        ("tok-1", "arn:e")
    ]


def test_a_version_4_database_keeps_its_executions_and_history(tmp_path: Path) -> None:
    import sqlite3

    from orchestrator.store import schema as store_module

    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as old:
        for version in range(1, 5):
            old.executescript(store_module.MIGRATIONS[version])
        old.execute("PRAGMA user_version=4")
        for arn, name in (("arn:b", "b"), ("arn:a", "a")):
            old.execute(
                "INSERT INTO executions (arn, state_machine, name, status, input, state,"
                " start_date) VALUES (?, 'M', ?, 'RUNNING', '{}', '{}', 'now')",
                (arn, name),
            )
            for event_id in (2, 1):  # stored out of order: read back in order
                old.execute(
                    "INSERT INTO history (execution_arn, id, event) VALUES (?, ?, ?)",
                    (arn, event_id, f'{{"id": {event_id}, "of": "{name}"}}'),
                )
    upgraded = SqliteStore(path)
    assert upgraded._db.execute("PRAGMA user_version").fetchone() == (store_module.SCHEMA_VERSION,)
    assert upgraded.history("arn:a") == [{"id": 1, "of": "a"}, {"id": 2, "of": "a"}]
    assert upgraded.history("arn:b") == [{"id": 1, "of": "b"}, {"id": 2, "of": "b"}]
    # The executions kept their order (rowid) as their new integer key.
    assert upgraded._db.execute("SELECT id, arn FROM executions ORDER BY id").fetchall() == [
        (1, "arn:b"),
        (2, "arn:a"),
    ]
    upgraded.close()


def test_history_reads_back_per_execution_in_event_order(
    engine: Engine, store: SqliteStore
) -> None:
    first = only_request(store, engine.start(intake("case-1")))
    second = only_request(store, engine.start(intake("case-2")))
    for request in (second, first):  # steps of two executions interleave in the history table
        result = messages.TaskSucceeded(
            task_token=request.task_token,
            attempt=0,
            output={"Case": "x", "Message": "Case x: opened..."},
        )
        assert engine.apply(result)
    for request in (first, second):
        events = store.history(request.execution_arn)
        assert [event["id"] for event in events] == list(range(1, len(events) + 1))
        assert events[0]["type"] == "ExecutionStarted"
        assert events[-1]["type"] == "LambdaFunctionScheduled"  # Assign Case, scheduled


def test_a_task_that_ends_without_a_result_leaves_no_dispatch_clock(
    engine: Engine, store: SqliteStore
) -> None:
    request = only_request(store, engine.start(intake()))
    assert request.task_token in engine._dispatched
    stopped = engine.stop(
        messages.StopExecutionRequest(execution_arn=request.execution_arn, cause="ops")
    )
    assert stopped is not None
    assert engine._dispatched == {}  # a long-running service must not keep every stopped task


def test_the_store_syncs_every_commit_to_disk(tmp_path: Path) -> None:
    # FULL: an acked step survives an OS crash, not only a killed process. (PostgreSQL's
    # commits are durable by its own settings: synchronous_commit on, by default.)
    store = SqliteStore(tmp_path / "sfn.db")
    (level,) = store._db.execute("PRAGMA synchronous").fetchone()
    assert level == 2
    again = SqliteStore(tmp_path / "sfn.db", checkpoint_in_background=True)
    assert again._db.execute("PRAGMA synchronous").fetchone() == (2,)
    again.close()


def test_a_new_store_uses_small_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    new = SqliteStore(tmp_path / "new.db")
    assert new._db.execute("PRAGMA page_size").fetchone() == (2048,)
    new.close()
    with sqlite3.connect(tmp_path / "old.db") as old:  # made by an earlier release
        old.execute("PRAGMA page_size=4096")
        old.execute("CREATE TABLE t (x)")
    reopened = SqliteStore(tmp_path / "old.db")
    assert reopened._db.execute("PRAGMA page_size").fetchone() == (4096,)
    reopened.close()


def test_an_error_in_the_interpreter_fails_the_execution_not_the_message(
    engine: Engine, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = only_request(store, engine.start(intake()))

    def bug(*args: object) -> None:
        raise ArithmeticError("a bug of ours")

    monkeypatch.setattr(interpreter._Run, "task_succeeded", bug)
    ids = engine.apply(
        messages.TaskSucceeded(task_token=request.task_token, attempt=0, output={"Case": "001"})
    )
    [state] = store.executions()
    assert (state.status, state.error) == ("FAILED", "States.Runtime")
    assert state.cause == (
        "An internal error occurred while applying a task result: ArithmeticError: a bug of"
        " ours. The orchestrator's log has the details."
    )
    routes = {row.routing_key for row in store.outbox_messages(ids or [])}
    assert routes == {"CallCenterStateMachine.FAILED", "client.replies"}


def test_a_start_the_interpreter_cannot_step_is_a_failed_execution(
    engine: Engine, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: object) -> None:
        raise ArithmeticError("a bug of ours")

    monkeypatch.setattr(interpreter._Run, "run_thread", bug)
    ids = engine.start(intake())
    [state] = store.executions()
    assert (state.status, state.error, state.input) == (
        "FAILED",
        "States.Runtime",
        {"inputCaseID": "001"},
    )
    assert state.cause is not None and state.cause.startswith(
        "An internal error occurred while starting the execution: ArithmeticError"
    )
    assert [e["type"] for e in store.history(state.execution_arn)] == [
        "ExecutionStarted",
        "ExecutionFailed",
    ]
    assert "client.replies" in {row.routing_key for row in store.outbox_messages(ids)}


def test_causes_and_errors_are_cut_to_aws_lengths(engine: Engine, store: SqliteStore) -> None:
    request = only_request(store, engine.start(intake()))
    engine.apply(
        messages.TaskFailed(
            task_token=request.task_token,
            attempt=0,
            error_type="E" * 1000,
            error_message="m" * 100_000,
        )
    )
    [state] = store.executions()
    assert state.error is not None and len(state.error) == 256
    assert state.cause is not None and len(state.cause) == 32_768
    assert state.cause.endswith("...(truncated)")


def test_status_changes_go_to_the_executions_exchange(store: SqliteStore) -> None:
    engine = Engine(load_definitions(DEFINITIONS), store)
    rows = store.outbox_messages(engine.start(intake()))
    running = [row for row in rows if row.routing_key.startswith("status-change.")]
    assert [row.routing_key for row in running] == ["status-change.CallCenterStateMachine.RUNNING"]
    event = messages.StatusChangeEvent.from_wire(running[0].body)
    assert (event.detail.status, event.detail.stopDate, event.source) == (
        "RUNNING",
        None,
        "aws.states",
    )
    assert event.resources == [event.detail.executionArn]
    quiet = Engine(load_definitions(DEFINITIONS), store, status_events=False)
    rows = store.outbox_messages(quiet.start(intake("case-2")))
    assert not [row for row in rows if row.routing_key.startswith("status-change.")]


def test_express_executions_send_no_status_changes(store: SqliteStore) -> None:
    """AWS sends EventBridge status changes for Standard workflows only."""
    machines = load_definitions(DEFINITIONS)
    express = dataclasses.replace(machines["CallCenterStateMachine"], type="EXPRESS")
    engine = Engine({**machines, "CallCenterStateMachine": express}, RoutedStore(store))
    ids = engine.start(intake("fast"))
    rows = engine.store.outbox_messages(ids)
    assert rows and ":express:" in json.loads(rows[0].body)["executionArn"]
    assert not [row for row in rows if row.routing_key.startswith("status-change.")]


def test_a_distributed_map_child_started_twice_is_started_once(tmp_path: Path) -> None:
    """A redelivered start of a Map Run's child (a crash between its commit and the ack)
    finds the child and starts nothing; the child's end reaches the parent once."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "Fan.asl.json").write_text(
        json.dumps(
            {
                "StartAt": "Fan",
                "States": {
                    "Fan": {
                        "Type": "Map",
                        "ItemsPath": "$.items",
                        "ItemProcessor": {
                            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                            "StartAt": "P",
                            "States": {"P": {"Type": "Pass", "End": True}},
                        },
                        "End": True,
                    }
                },
            }
        )
    )
    store = SqliteStore(tmp_path / "sfn.db")
    engine = Engine(load_definitions(folder), store, status_events=False)
    ids = engine.start(
        messages.IntakeRequest(state_machine="Fan", execution_name="p", input={"items": [1]})
    )
    (row,) = store.outbox_messages(ids)  # the one item's start
    request = messages.IntegrationRequest.from_wire(row.body)
    assert request.integration == "map-run" and request.action == "startExecution"
    first = engine.start_map_child(request)
    assert first  # the child ran to its end: its result for the parent is in the outbox
    assert engine.start_map_child(request) == []
    parameters = request.parameters
    assert isinstance(parameters, dict)
    children = store.execution_summaries(map_run=str(parameters["MapRunArn"]))
    assert len(children) == 1 and children[0].status == "SUCCEEDED"
