"""State machine versions and aliases through boto3 and the AWS CLI, as AWS documents them.

Publishing versions (CreateStateMachine/UpdateStateMachine with ``publish``,
PublishStateMachineVersion and its revision checks), describing, listing and deleting them;
aliases over one or two versions, their validation, and executions started through a version
or an alias ARN with weighted routing. One orchestrator process of this module's own serves
the API on a free port with its own database; every machine is a Pass-only one made here.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.test_boto3 import ROLE, code, free_port, wait_done
from tests.integration.amqp import purge_topology
from tests.processes import REPO, start_orchestrator

pytestmark = pytest.mark.integration


def definition(v: int) -> str:
    """A Pass-only definition whose output, {"v": v}, tells which definition ran."""
    return json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": v}, "End": True}}}
    )


async def _purge(url: str) -> None:
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    await purge_topology(channel)
    await connection.close()


@pytest.fixture(scope="module")
def endpoint(amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("versions")
    env = {**os.environ, "AMQP_URL": amqp_url, "PYTHONUNBUFFERED": "1"}
    env.pop("SFN_ACCESS_KEY_ID", None)
    asyncio.run(_purge(amqp_url))
    port = free_port()
    service = start_orchestrator(env, tmp, tmp / "sfn.db", api_port=port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()


@pytest.fixture(scope="module")
def sfn(endpoint: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


def new_machine(sfn: Any, v: int = 1, **kwargs: Any) -> dict[str, Any]:
    """CreateStateMachine with a fresh name and ``definition(v)``; its response."""
    name = f"Ver{uuid.uuid4().hex[:10]}"
    created: dict[str, Any] = sfn.create_state_machine(
        name=name, definition=definition(v), roleArn=ROLE, **kwargs
    )
    return created


def update(sfn: Any, arn: str, v: int, **kwargs: Any) -> dict[str, Any]:
    updated: dict[str, Any] = sfn.update_state_machine(
        stateMachineArn=arn, definition=definition(v), **kwargs
    )
    return updated


def run(sfn: Any, arn: str) -> dict[str, Any]:
    """Start an execution of ``arn`` (base, version or alias) and describe it once done."""
    started = sfn.start_execution(stateMachineArn=arn, input="{}")
    described = wait_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    return described


def version_arns(sfn: Any, arn: str) -> list[str]:
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    return [v["stateMachineVersionArn"] for v in listed]


def execution_arns(sfn: Any, arn: str) -> set[str]:
    """Every execution ListExecutions gives for ``arn``, over all its pages."""
    found: set[str] = set()
    token: str | None = None
    while True:
        page = sfn.list_executions(stateMachineArn=arn, **({"nextToken": token} if token else {}))
        found |= {e["executionArn"] for e in page["executions"]}
        token = page.get("nextToken")
        if not token:
            return found


def only_metadata(response: dict[str, Any]) -> bool:
    """Whether a response is AWS's empty ``{}`` (boto3 adds only ResponseMetadata)."""
    return set(response) == {"ResponseMetadata"}


# --- versions --------------------------------------------------------------------------------


def test_create_with_publish_returns_version_one(sfn: Any) -> None:
    created = new_machine(sfn, 1, publish=True, versionDescription="first release")
    arn = created["stateMachineArn"]
    assert created["stateMachineVersionArn"] == f"{arn}:1"
    assert version_arns(sfn, arn) == [f"{arn}:1"]
    described = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert described["stateMachineArn"] == f"{arn}:1"
    assert described["name"] == arn.split(":")[-1]
    assert (described["description"], described["roleArn"], described["type"]) == (
        "first release",
        ROLE,
        "STANDARD",
    )
    assert json.loads(described["definition"]) == json.loads(definition(1))
    # Without publish there is no version at all.
    plain = new_machine(sfn, 1)
    assert "stateMachineVersionArn" not in plain
    assert version_arns(sfn, plain["stateMachineArn"]) == []


def test_a_version_description_needs_publish(sfn: Any) -> None:
    with pytest.raises(ClientError) as caught:
        new_machine(sfn, 1, versionDescription="no publish")
    assert code(caught) == "ValidationException"
    arn = new_machine(sfn, 1)["stateMachineArn"]
    with pytest.raises(ClientError) as caught:
        update(sfn, arn, 2, versionDescription="no publish")
    assert code(caught) == "ValidationException"
    assert version_arns(sfn, arn) == []


def test_publish_is_idempotent_until_the_machine_changes(sfn: Any) -> None:
    arn = new_machine(sfn, 1)["stateMachineArn"]
    first = sfn.publish_state_machine_version(stateMachineArn=arn, description="one")
    assert first["stateMachineVersionArn"] == f"{arn}:1"
    assert first["creationDate"].timestamp() > 0
    # Nothing changed since version 1: the same version, not a new one.
    again = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert again["stateMachineVersionArn"] == f"{arn}:1"
    assert version_arns(sfn, arn) == [f"{arn}:1"]
    update(sfn, arn, 2)
    second = sfn.publish_state_machine_version(stateMachineArn=arn, description="two")
    assert second["stateMachineVersionArn"] == f"{arn}:2"
    assert second["creationDate"] >= first["creationDate"]
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:2", f"{arn}:1"]
    assert all(v["creationDate"].timestamp() > 0 for v in listed)
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:2")["description"] == "two"
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.publish_state_machine_version(stateMachineArn=f"{arn}Missing")


def test_revision_ids_change_on_update_and_guard_publishing(sfn: Any) -> None:
    arn = new_machine(sfn, 1)["stateMachineArn"]
    first = update(sfn, arn, 2)["revisionId"]
    assert first and sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == first
    second = update(sfn, arn, 3)["revisionId"]
    assert second and second != first
    assert sfn.describe_state_machine(stateMachineArn=arn)["revisionId"] == second
    # Publishing a revision that is no longer current is a conflict, and publishes nothing.
    with pytest.raises(ClientError) as caught:
        sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=first)
    assert code(caught) == "ConflictException"
    assert version_arns(sfn, arn) == []
    published = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=second)
    assert published["stateMachineVersionArn"] == f"{arn}:1"
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["revisionId"] == second


def test_update_with_publish_makes_the_next_version_and_old_versions_keep_theirs(
    sfn: Any,
) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    updated = update(sfn, arn, 2, publish=True, versionDescription="second")
    assert updated["stateMachineVersionArn"] == f"{arn}:2"
    assert updated["revisionId"] and updated["updateDate"].timestamp() > 0
    v1 = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    v2 = sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert json.loads(v1["definition"])["States"]["P"]["Result"] == {"v": 1}
    assert json.loads(v2["definition"])["States"]["P"]["Result"] == {"v": 2}
    assert (v1["stateMachineArn"], v2["stateMachineArn"]) == (f"{arn}:1", f"{arn}:2")
    assert v2["description"] == "second" and v2["revisionId"] == updated["revisionId"]
    # An unpublished change leaves both versions as they were.
    update(sfn, arn, 3)
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["States"]["P"][
        "Result"
    ] == {"v": 3}
    v1_again = sfn.describe_state_machine(stateMachineArn=f"{arn}:1")
    assert json.loads(v1_again["definition"])["States"]["P"]["Result"] == {"v": 1}
    assert version_arns(sfn, arn) == [f"{arn}:2", f"{arn}:1"]
    # Publishing the unchanged definition makes version 3 of that revision, once.
    assert update(sfn, arn, 3, publish=True)["stateMachineVersionArn"] == f"{arn}:3"
    assert update(sfn, arn, 3, publish=True)["stateMachineVersionArn"] == f"{arn}:3"
    assert version_arns(sfn, arn) == [f"{arn}:3", f"{arn}:2", f"{arn}:1"]


def test_list_versions_newest_first_in_pages(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    for v in range(2, 6):
        update(sfn, arn, v, publish=True)
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page = sfn.list_state_machine_versions(
            stateMachineArn=arn, maxResults=2, **({"nextToken": token} if token else {})
        )
        pages.append([v["stateMachineVersionArn"] for v in page["stateMachineVersions"]])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [[f"{arn}:5", f"{arn}:4"], [f"{arn}:3", f"{arn}:2"], [f"{arn}:1"]]
    with pytest.raises(ClientError) as caught:
        sfn.list_state_machine_versions(stateMachineArn=arn, nextToken="not-a-token")
    assert code(caught) == "InvalidToken"


def test_deleted_versions_are_gone_and_their_numbers_never_reused(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    deleted = sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2")
    assert only_metadata(deleted)
    assert version_arns(sfn, arn) == [f"{arn}:1"]
    with pytest.raises(ClientError) as caught:
        sfn.describe_state_machine(stateMachineArn=f"{arn}:2")
    assert code(caught) == "StateMachineDoesNotExist"  # DescribeStateMachine's modeled error
    with pytest.raises(ClientError) as caught:
        sfn.start_execution(stateMachineArn=f"{arn}:2")
    assert code(caught) == "StateMachineDoesNotExist"
    # Deleting it again is not an error.
    assert only_metadata(sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:2"))
    # The next version is 3, not 2 again.
    assert update(sfn, arn, 3, publish=True)["stateMachineVersionArn"] == f"{arn}:3"
    assert version_arns(sfn, arn) == [f"{arn}:3", f"{arn}:1"]
    # The machine itself is untouched.
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == (
        json.loads(definition(3))
    )


def test_executions_of_a_version_run_its_definition(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2)
    through_version = run(sfn, f"{arn}:1")
    assert json.loads(through_version["output"]) == {"v": 1}
    assert through_version["stateMachineArn"] == arn
    assert through_version["stateMachineVersionArn"] == f"{arn}:1"
    assert "stateMachineAliasArn" not in through_version
    assert through_version["executionArn"].startswith(
        arn.replace(":stateMachine:", ":execution:") + ":"
    )
    # An execution of the unqualified ARN runs the current definition and has no version.
    latest = run(sfn, arn)
    assert json.loads(latest["output"]) == {"v": 2}
    assert "stateMachineVersionArn" not in latest
    # The definition the version's execution used is version 1's.
    used = sfn.describe_state_machine_for_execution(executionArn=through_version["executionArn"])
    assert json.loads(used["definition"])["States"]["P"]["Result"] == {"v": 1}
    # ListExecutions filters by the version ARN; the base ARN lists both.
    assert execution_arns(sfn, f"{arn}:1") == {through_version["executionArn"]}
    assert execution_arns(sfn, arn) == {through_version["executionArn"], latest["executionArn"]}
    listed = sfn.list_executions(stateMachineArn=arn)["executions"]
    by_arn = {e["executionArn"]: e for e in listed}
    assert by_arn[through_version["executionArn"]]["stateMachineVersionArn"] == f"{arn}:1"
    assert "stateMachineVersionArn" not in by_arn[latest["executionArn"]]


# --- aliases ---------------------------------------------------------------------------------


def test_alias_lifecycle(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []
    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    created = sfn.create_state_machine_alias(
        name="prod", description="production", routingConfiguration=routing
    )
    alias = created["stateMachineAliasArn"]
    assert alias == f"{arn}:prod"
    assert created["creationDate"].timestamp() > 0
    # The same request again is idempotent.
    assert (
        sfn.create_state_machine_alias(
            name="prod", description="production", routingConfiguration=routing
        )["stateMachineAliasArn"]
        == alias
    )
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert (described["stateMachineAliasArn"], described["name"], described["description"]) == (
        alias,
        "prod",
        "production",
    )
    assert described["routingConfiguration"] == routing
    assert described["creationDate"].timestamp() > 0
    # updateDate, when given before any update, is the creation date.
    assert described.get("updateDate", described["creationDate"]) >= described["creationDate"]
    listed = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in listed] == [alias]
    assert listed[0]["creationDate"].timestamp() > 0

    changed = sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="live")
    assert changed["updateDate"] >= described["creationDate"]
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert (described["description"], described["routingConfiguration"]) == ("live", routing)
    split = [
        {"stateMachineVersionArn": f"{arn}:1", "weight": 50},
        {"stateMachineVersionArn": f"{arn}:2", "weight": 50},
    ]
    sfn.update_state_machine_alias(stateMachineAliasArn=alias, routingConfiguration=split)
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == split and described["description"] == "live"
    assert described["updateDate"] >= described["creationDate"]

    # The same alias name on another machine is another alias.
    other = new_machine(sfn, 1, publish=True)
    elsewhere = sfn.create_state_machine_alias(
        name="prod",
        routingConfiguration=[
            {"stateMachineVersionArn": f"{other['stateMachineArn']}:1", "weight": 100}
        ],
    )["stateMachineAliasArn"]
    assert elsewhere == f"{other['stateMachineArn']}:prod"
    assert [
        a["stateMachineAliasArn"]
        for a in sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    ] == [alias]

    assert only_metadata(sfn.delete_state_machine_alias(stateMachineAliasArn=alias))
    with pytest.raises(ClientError) as caught:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert code(caught) == "ResourceNotFound"
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias, description="gone")
    assert code(caught) == "ResourceNotFound"
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []
    # Deleting it again is not an error; the versions it routed to remain.
    assert only_metadata(sfn.delete_state_machine_alias(stateMachineAliasArn=alias))
    assert version_arns(sfn, arn) == [f"{arn}:2", f"{arn}:1"]
    # An execution through a deleted alias is refused.
    with pytest.raises(ClientError):
        sfn.start_execution(stateMachineArn=alias)


def test_alias_list_is_paginated(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    routing = [{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    made = {
        sfn.create_state_machine_alias(name=f"a{i}", routingConfiguration=routing)[
            "stateMachineAliasArn"
        ]
        for i in range(3)
    }
    first = sfn.list_state_machine_aliases(stateMachineArn=arn, maxResults=2)
    assert len(first["stateMachineAliases"]) == 2 and first["nextToken"]
    rest = sfn.list_state_machine_aliases(stateMachineArn=arn, nextToken=first["nextToken"])
    assert "nextToken" not in rest
    listed = [a["stateMachineAliasArn"] for a in first["stateMachineAliases"]] + [
        a["stateMachineAliasArn"] for a in rest["stateMachineAliases"]
    ]
    assert sorted(listed) == sorted(made)


@dataclass
class Versions:
    """A machine with versions 1, 2 and 3, and another machine with its version 1."""

    arn: str
    other: str

    def route(self, *pairs: tuple[str, int]) -> list[dict[str, Any]]:
        return [{"stateMachineVersionArn": v, "weight": w} for v, w in pairs]

    def v(self, n: int) -> str:
        return f"{self.arn}:{n}"


@pytest.fixture(scope="module")
def versions(sfn: Any) -> Versions:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    update(sfn, arn, 3, publish=True)
    other = new_machine(sfn, 9, publish=True)["stateMachineArn"]
    return Versions(arn, other)


INVALID_ALIASES: dict[str, Callable[[Versions], dict[str, Any]]] = {
    "weights under 100": lambda m: {
        "name": "under",
        "routingConfiguration": m.route((m.v(1), 70), (m.v(2), 29)),
    },
    "weights over 100": lambda m: {
        "name": "over",
        "routingConfiguration": m.route((m.v(1), 70), (m.v(2), 31)),
    },
    "one weight under 100": lambda m: {
        "name": "single",
        "routingConfiguration": m.route((m.v(1), 90)),
    },
    "a weight over 100": lambda m: {
        "name": "huge",
        "routingConfiguration": m.route((m.v(1), 101)),
    },
    "three versions": lambda m: {
        "name": "three",
        "routingConfiguration": m.route((m.v(1), 50), (m.v(2), 30), (m.v(3), 20)),
    },
    "the same version twice": lambda m: {
        "name": "twice",
        "routingConfiguration": m.route((m.v(1), 50), (m.v(1), 50)),
    },
    "the unqualified machine ARN": lambda m: {
        "name": "base",
        "routingConfiguration": m.route((m.arn, 100)),
    },
    "versions of two machines": lambda m: {
        "name": "mixed",
        "routingConfiguration": m.route((m.v(1), 50), (f"{m.other}:1", 50)),
    },
    "a name of digits only": lambda m: {
        "name": "123",
        "routingConfiguration": m.route((m.v(1), 100)),
    },
    "a name with a space": lambda m: {
        "name": "bad name",
        "routingConfiguration": m.route((m.v(1), 100)),
    },
}


@pytest.mark.parametrize("case", list(INVALID_ALIASES))
def test_invalid_aliases_are_refused_with_validation_exception(
    sfn: Any, versions: Versions, case: str
) -> None:
    request = INVALID_ALIASES[case](versions)
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine_alias(**request)
    assert code(caught) == "ValidationException"
    for machine in (versions.arn, versions.other):
        names = [
            a["stateMachineAliasArn"].rsplit(":", 1)[-1]
            for a in sfn.list_state_machine_aliases(stateMachineArn=machine)["stateMachineAliases"]
        ]
        assert request["name"] not in names


def test_an_existing_alias_name_with_another_configuration_conflicts(
    sfn: Any, versions: Versions
) -> None:
    name = f"conf{uuid.uuid4().hex[:6]}"
    routing = versions.route((versions.v(1), 100))
    alias = sfn.create_state_machine_alias(
        name=name, description="first", routingConfiguration=routing
    )["stateMachineAliasArn"]
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine_alias(
            name=name,
            description="first",
            routingConfiguration=versions.route((versions.v(1), 50), (versions.v(2), 50)),
        )
    assert code(caught) == "ConflictException"
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine_alias(
            name=name, description="another", routingConfiguration=routing
        )
    assert code(caught) == "ConflictException"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert (described["description"], described["routingConfiguration"]) == ("first", routing)


def test_invalid_alias_updates_are_refused(sfn: Any, versions: Versions) -> None:
    routing = versions.route((versions.v(1), 100))
    alias = sfn.create_state_machine_alias(
        name=f"upd{uuid.uuid4().hex[:6]}", routingConfiguration=routing
    )["stateMachineAliasArn"]
    # Neither a description nor a routing configuration.
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine_alias(stateMachineAliasArn=alias)
    assert code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine_alias(
            stateMachineAliasArn=alias,
            routingConfiguration=versions.route((versions.v(1), 60), (versions.v(2), 60)),
        )
    assert code(caught) == "ValidationException"
    with pytest.raises(ClientError) as caught:
        sfn.update_state_machine_alias(
            stateMachineAliasArn=alias,
            routingConfiguration=versions.route((f"{versions.other}:1", 100)),
        )
    assert code(caught) == "ValidationException"
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == routing


def test_a_version_an_alias_routes_to_cannot_be_deleted(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    alias = sfn.create_state_machine_alias(
        name="live",
        routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 90},
            {"stateMachineVersionArn": f"{arn}:2", "weight": 10},
        ],
    )["stateMachineAliasArn"]
    for version in (f"{arn}:1", f"{arn}:2"):
        with pytest.raises(ClientError) as caught:
            sfn.delete_state_machine_version(stateMachineVersionArn=version)
        assert code(caught) == "ConflictException"
    assert version_arns(sfn, arn) == [f"{arn}:2", f"{arn}:1"]
    # Once the alias routes elsewhere, the version can go.
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias,
        routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}],
    )
    assert only_metadata(sfn.delete_state_machine_version(stateMachineVersionArn=f"{arn}:1"))
    assert version_arns(sfn, arn) == [f"{arn}:2"]


def test_executions_through_an_alias(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    update(sfn, arn, 3)
    alias = sfn.create_state_machine_alias(
        name="stable", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    through_alias = [run(sfn, alias) for _ in range(10)]
    for described in through_alias:
        assert json.loads(described["output"]) == {"v": 1}
        assert described["stateMachineArn"] == arn
        assert described["stateMachineAliasArn"] == alias
        assert described["stateMachineVersionArn"] == f"{arn}:1"
    # An execution started with the version ARN is not the alias's, even on the same version.
    direct = run(sfn, f"{arn}:1")
    assert "stateMachineAliasArn" not in direct
    other_version = run(sfn, f"{arn}:2")
    assert json.loads(other_version["output"]) == {"v": 2}
    latest = run(sfn, arn)
    assert json.loads(latest["output"]) == {"v": 3}
    alias_runs = {d["executionArn"] for d in through_alias}
    assert execution_arns(sfn, alias) == alias_runs
    assert direct["executionArn"] in execution_arns(sfn, f"{arn}:1")
    assert execution_arns(sfn, f"{arn}:2") == {other_version["executionArn"]}
    assert execution_arns(sfn, arn) == alias_runs | {
        direct["executionArn"],
        other_version["executionArn"],
        latest["executionArn"],
    }
    listed = {e["executionArn"]: e for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
    one = listed[through_alias[0]["executionArn"]]
    assert (one["stateMachineAliasArn"], one["stateMachineVersionArn"]) == (alias, f"{arn}:1")


def test_weighted_routing_splits_executions_between_two_versions(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    alias = sfn.create_state_machine_alias(
        name="canary",
        routingConfiguration=[
            {"stateMachineVersionArn": f"{arn}:1", "weight": 80},
            {"stateMachineVersionArn": f"{arn}:2", "weight": 20},
        ],
    )["stateMachineAliasArn"]
    started = [
        sfn.start_execution(stateMachineArn=alias, input="{}")["executionArn"] for _ in range(100)
    ]
    used: Counter[str] = Counter()
    for execution in started:
        described = wait_done(sfn, execution)
        version = described["stateMachineVersionArn"]
        used[version] += 1
        assert described["stateMachineAliasArn"] == alias
        # Each execution ran the definition of the version it was routed to.
        assert json.loads(described["output"]) == {"v": int(version.rsplit(":", 1)[-1])}
    assert set(used) == {f"{arn}:1", f"{arn}:2"}
    assert 60 <= used[f"{arn}:1"] <= 95, used


def test_an_alias_with_all_the_weight_on_one_version_always_uses_it(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    alias = sfn.create_state_machine_alias(
        name="pinned", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:2", "weight": 100}]
    )["stateMachineAliasArn"]
    started = [
        sfn.start_execution(stateMachineArn=alias, input="{}")["executionArn"] for _ in range(30)
    ]
    versions_used = {wait_done(sfn, e)["stateMachineVersionArn"] for e in started}
    assert versions_used == {f"{arn}:2"}


def test_deleting_a_machine_deletes_its_versions_and_aliases(sfn: Any) -> None:
    arn = new_machine(sfn, 1, publish=True)["stateMachineArn"]
    update(sfn, arn, 2, publish=True)
    alias = sfn.create_state_machine_alias(
        name="doomed", routingConfiguration=[{"stateMachineVersionArn": f"{arn}:1", "weight": 100}]
    )["stateMachineAliasArn"]
    assert only_metadata(sfn.delete_state_machine(stateMachineArn=arn))
    for version in (f"{arn}:1", f"{arn}:2"):
        with pytest.raises(ClientError) as caught:
            sfn.describe_state_machine(stateMachineArn=version)
        assert code(caught) == "StateMachineDoesNotExist"
    with pytest.raises(ClientError) as caught:
        sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert code(caught) == "ResourceNotFound"
    for target in (f"{arn}:1", alias):
        with pytest.raises(ClientError):
            sfn.start_execution(stateMachineArn=target)


def test_the_aws_cli_publishes_and_lists_versions(sfn: Any, endpoint: str) -> None:
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("no aws CLI in the virtualenv")
    arn = new_machine(sfn, 1)["stateMachineArn"]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    cli = [str(aws), "stepfunctions", "--endpoint-url", endpoint, "--output", "json"]

    def call(*args: str) -> dict[str, Any]:
        done = subprocess.run(
            [*cli, *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO
        )
        assert done.returncode == 0, done.stderr
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer

    published = call(
        "publish-state-machine-version", "--state-machine-arn", arn, "--description", "cli"
    )
    assert published["stateMachineVersionArn"] == f"{arn}:1"
    listed = call("list-state-machine-versions", "--state-machine-arn", arn)
    assert [v["stateMachineVersionArn"] for v in listed["stateMachineVersions"]] == [f"{arn}:1"]
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["description"] == "cli"
