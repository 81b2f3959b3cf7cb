"""The tutorial end to end: the orchestrator and five workers as OS processes on a real RabbitMQ."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aio_pika.abc import AbstractChannel

from broker import REASON_HEADER
from messages.executions import STATE_MACHINE_HEADER
from tests.integration.amqp import collect, publish_case, purge_topology
from tests.processes import call_center_stack

pytestmark = pytest.mark.integration

CASES = 60


async def test_sixty_cases_each_get_exactly_one_result(
    amqp_channel: AbstractChannel, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    topology = await purge_topology(amqp_channel)
    replies = await amqp_channel.declare_queue(f"test.replies.{uuid.uuid4().hex}", exclusive=True)
    events = await amqp_channel.declare_queue(f"test.events.{uuid.uuid4().hex}", exclusive=True)
    await events.bind(await topology.executions_exchange(), routing_key="CallCenterStateMachine.*")
    run = uuid.uuid4().hex[:8]

    with call_center_stack(subprocess_env, tmp_path) as stack:
        for i in range(CASES):
            await publish_case(
                amqp_channel,
                {"inputCaseID": f"{i:03d}"},
                reply_to=replies.name,
                correlation_id=str(i),
                headers={"execution-name": f"e2e-{run}-{i:03d}"},
            )
        got = await collect(replies, CASES, timeout=90, settle=1.0)
        published = await collect(events, CASES, timeout=10, settle=0.5)
        assert len(got) == CASES, stack.logs()

    by_case = Counter(m.correlation_id for m in got)
    assert by_case == Counter(str(i) for i in range(CASES)), "each case exactly one reply"
    outcomes = Counter()
    for message in got:
        result = json.loads(message.body)
        case = f"{int(message.correlation_id or -1):03d}"
        assert result["name"] == f"e2e-{run}-{case}"
        assert result["executionArn"].endswith(
            f":execution:CallCenterStateMachine:e2e-{run}-{case}"
        )
        assert result["stateMachineArn"].endswith(":stateMachine:CallCenterStateMachine")
        assert result["startDate"] <= result["stopDate"]
        outcomes[result["status"]] += 1
        if result["status"] == "SUCCEEDED":
            assert result["output"] == {
                "Case": case,
                "Status": 1,
                "Message": f"Case {case}: opened...assigned...resolved...closed.",
            }
            assert "error" not in result and "cause" not in result
        else:
            assert result["status"] == "FAILED"
            assert result["cause"] == "Engage Tier 2 Support."
            assert "error" not in result  # the tutorial's Fail state sets only a Cause
            assert "output" not in result
    assert outcomes["SUCCEEDED"] > 0 and outcomes["FAILED"] > 0, outcomes
    assert outcomes["SUCCEEDED"] + outcomes["FAILED"] == CASES

    ours = [m for m in published if json.loads(m.body)["name"].startswith(f"e2e-{run}-")]
    assert len(ours) == CASES, "one execution event per execution on the exchange"
    for message in ours:
        assert message.routing_key == f"CallCenterStateMachine.{json.loads(message.body)['status']}"
    for service in stack.services:
        assert service.process.returncode == 0, (
            f"{service.name} did not stop cleanly:\n{service.output()}"
        )


async def test_the_call_center_written_in_jsonata_runs_both_ways(
    amqp_channel: AbstractChannel, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    await purge_topology(amqp_channel)
    replies = await amqp_channel.declare_queue(f"test.replies.{uuid.uuid4().hex}", exclusive=True)
    cases = 16
    with call_center_stack(subprocess_env, tmp_path) as stack:
        for i in range(cases):
            await publish_case(
                amqp_channel,
                {"inputCaseID": f"J{i:02d}"},
                reply_to=replies.name,
                correlation_id=f"J{i:02d}",
                headers={STATE_MACHINE_HEADER: "CallCenterJsonata"},
            )
        got = await collect(replies, cases, timeout=60, settle=0.5)
        assert len(got) == cases, stack.logs()
    outcomes = Counter()
    for message in got:
        result, case = json.loads(message.body), message.correlation_id
        assert result["stateMachineArn"].endswith(":stateMachine:CallCenterJsonata")
        outcomes[result["status"]] += 1
        if result["status"] == "SUCCEEDED":
            assert result["output"] == {
                "Case": case,
                "Status": 1,
                "Message": f"Case {case}: opened...assigned...resolved...closed.",
            }
        else:
            assert (result["status"], result["error"]) == ("FAILED", "CaseEscalated")
            assert result["cause"] == f"Case {case}: engage Tier 2 Support."  # from $caseId
    assert outcomes["SUCCEEDED"] > 0 and outcomes["FAILED"] > 0, outcomes


async def test_an_invalid_payload_fails_the_execution_with_the_workers_named_error(
    amqp_channel: AbstractChannel, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    await purge_topology(amqp_channel)
    replies = await amqp_channel.declare_queue(f"test.replies.{uuid.uuid4().hex}", exclusive=True)
    with call_center_stack(subprocess_env, tmp_path) as stack:
        await publish_case(
            amqp_channel, {"caseId": "no inputCaseID"}, reply_to=replies.name, correlation_id="bad"
        )
        (reply,) = await collect(replies, 1, timeout=30)
        result = json.loads(reply.body)
        assert result["status"] == "FAILED", stack.logs()
        assert result["error"] == "ValidationError"
        cause = json.loads(result["cause"])
        assert cause["errorType"] == "ValidationError"
        assert "inputCaseID" in cause["errorMessage"]


async def test_bad_intake_messages_are_dead_lettered_and_the_service_keeps_serving(
    amqp_channel: AbstractChannel, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    topology = await purge_topology(amqp_channel)
    dead_letters = await amqp_channel.get_queue("intake.dead-letter")
    dead_results = await amqp_channel.get_queue("orchestrator.task-results.dead-letter")
    replies = await amqp_channel.declare_queue(f"test.replies.{uuid.uuid4().hex}", exclusive=True)
    with call_center_stack(subprocess_env, tmp_path) as stack:
        await publish_case(amqp_channel, b"this is not json", correlation_id="not-json")
        await publish_case(amqp_channel, b'["a", "list"]', correlation_id="not-object")
        await publish_case(
            amqp_channel,
            {"inputCaseID": "1"},
            correlation_id="unknown-machine",
            headers={"state-machine": "NoSuchMachine"},
        )
        await publish_case(
            amqp_channel,
            {"inputCaseID": "1"},
            correlation_id="bad-name",
            headers={"execution-name": "has spaces in it"},
        )
        await amqp_channel.default_exchange.publish(
            __import__("aio_pika").Message(b'{"taskToken": 5}', correlation_id="bad-result"),
            routing_key="orchestrator.task-results",
        )
        dead = await collect(dead_letters, 4, timeout=20)
        dead_result = await collect(dead_results, 1, timeout=20)
        reasons = {m.correlation_id: str((m.headers or {}).get(REASON_HEADER)) for m in dead}
        assert set(reasons) == {"not-json", "not-object", "unknown-machine", "bad-name"}, (
            stack.logs()
        )
        assert "not JSON" in reasons["not-json"]
        assert "must be a JSON object" in reasons["not-object"]
        assert "StateMachineDoesNotExist" in reasons["unknown-machine"]
        assert "NoSuchMachine" in reasons["unknown-machine"]
        assert "InvalidName" in reasons["bad-name"]
        assert {m.body for m in dead} >= {b"this is not json", b'["a", "list"]'}, "the body is kept"
        assert len(dead_result) == 1
        assert "invalid message" in str((dead_result[0].headers or {}).get(REASON_HEADER))
        # ... and the orchestrator keeps serving.
        await publish_case(
            amqp_channel, {"inputCaseID": "042"}, reply_to=replies.name, correlation_id="good"
        )
        (reply,) = await collect(replies, 1, timeout=30)
        assert json.loads(reply.body)["status"] in {"SUCCEEDED", "FAILED"}
        orchestrator = stack.services[0]
        assert orchestrator.process.poll() is None
        assert "dead-lettering a message from intake" in orchestrator.output()
    del topology
