"""State machine versions and aliases: the eight actions, and what the others need of them.

A version fixes a state machine's definition, type and role under a number (ARN
``<stateMachineArn>:<n>``); an alias (ARN ``<stateMachineArn>:<alias>``) routes executions to
one version, or between two with weights, as AWS does. StartExecution on either runs the
version's definition; the execution remembers both ARNs for DescribeExecution and
ListExecutions. Revision ids are the definition's digest.
"""

from __future__ import annotations

import dataclasses
import random
import re
from typing import TYPE_CHECKING, Any

from orchestrator.api.errors import ApiError
from orchestrator.arns import parse_states_arn
from orchestrator.asl.definition import StateMachine
from orchestrator.store.records import AliasRecord, VersionRecord

if TYPE_CHECKING:
    from orchestrator.api.actions import Handler, Params, StepFunctionsApi

# The actions served here.
VERSION_ACTIONS = (
    "PublishStateMachineVersion",
    "ListStateMachineVersions",
    "DeleteStateMachineVersion",
    "CreateStateMachineAlias",
    "DescribeStateMachineAlias",
    "UpdateStateMachineAlias",
    "DeleteStateMachineAlias",
    "ListStateMachineAliases",
)
# AWS's quota of versions per state machine.
MAX_VERSIONS = 1000
_ALIAS_NAME = re.compile(r"^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}$")


class Versions:
    """The version and alias actions of one :class:`StepFunctionsApi`."""

    def __init__(self, api: StepFunctionsApi) -> None:
        self.api = api
        self.store = api.store
        self._random = random.Random()

    def handlers(self) -> dict[str, Handler]:
        """The actions served here, by name."""
        return {
            "PublishStateMachineVersion": self.publish_state_machine_version,
            "ListStateMachineVersions": self.list_state_machine_versions,
            "DeleteStateMachineVersion": self.delete_state_machine_version,
            "CreateStateMachineAlias": self.create_state_machine_alias,
            "DescribeStateMachineAlias": self.describe_state_machine_alias,
            "UpdateStateMachineAlias": self.update_state_machine_alias,
            "DeleteStateMachineAlias": self.delete_state_machine_alias,
            "ListStateMachineAliases": self.list_state_machine_aliases,
        }

    # -- ARNs ----------------------------------------------------------------------------------

    def qualified(self, arn: str) -> tuple[str, str | None] | None:
        """(state machine name, qualifier or None) of a state machine ARN of ours, or None."""
        names = self.api._names(arn, "stateMachine", 1)  # ours, unqualified
        if names is not None:
            return names[0], None
        parsed = parse_states_arn(arn)
        if parsed is None:
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        if len(parsed.names) != 2 or not self.api.account.owns(parsed):
            return None
        return parsed.names[0], parsed.names[1]

    def version_arn(self, name: str, number: int) -> str:
        """``<stateMachineArn>:<number>``."""
        return f"{self.api.account.state_machine_arn(name)}:{number}"

    def alias_arn(self, name: str, alias: str) -> str:
        """``<stateMachineArn>:<alias>``."""
        return f"{self.api.account.state_machine_arn(name)}:{alias}"

    def version_parts(self, arn: str, refusal: str = "InvalidArn") -> tuple[str, int]:
        """(state machine name, version number) of a version ARN of ours; ``refusal``
        (with its message) otherwise."""
        found = self.qualified(arn)
        if found is None or found[1] is None or not found[1].isdigit():
            message = (
                "Routing configuration must contain state machine version ARNs"
                if refusal == "ValidationException"
                else f"Invalid Arn: '{arn}'"
            )
            raise ApiError(refusal, message)
        return found[0], int(found[1])

    def alias_parts(self, arn: str) -> tuple[str, str]:
        """(state machine name, alias name) of an alias ARN of ours; InvalidArn otherwise."""
        found = self.qualified(arn)
        if found is None or found[1] is None or found[1].isdigit():
            raise ApiError("InvalidArn", f"Invalid Arn: '{arn}'")
        return found[0], found[1]

    def _version_of(self, arn: str, missing: str = "ResourceNotFound") -> VersionRecord:
        record = self.store.version(*self.version_parts(arn))
        if record is None:
            message = (
                f"State Machine Does Not Exist: '{arn}'"
                if missing == "StateMachineDoesNotExist"
                else f"State machine version does not exist: '{arn}'"
            )
            raise ApiError(missing, message)
        return record

    def _alias_of(self, arn: str) -> AliasRecord:
        record = self.store.alias(*self.alias_parts(arn))
        if record is None:
            raise ApiError("ResourceNotFound", f"Resource not found: '{arn}'")
        return record

    # -- versions ------------------------------------------------------------------------------

    def publish(self, name: str, description: str | None, revision: str | None = None) -> Params:
        """Publish the current definition of ``name`` (the latest version when unchanged)."""
        record = self.store.state_machine(name)
        arn = self.api.account.state_machine_arn(name)
        if record is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        if revision is not None and revision != record.definition_hash:
            raise ApiError(
                "ConflictException",
                f"Failed to publish the State Machine version for revision {revision}. The"
                f" current State Machine revision is {record.definition_hash}.",
            )
        versions = self.store.versions(name)
        latest = versions[0] if versions else None
        if latest is not None and (latest.definition_hash, latest.type, latest.role_arn) == (
            record.definition_hash,
            record.type,
            record.role_arn,
        ):
            return {
                "creationDate": latest.created,
                "stateMachineVersionArn": self.version_arn(name, latest.version),
            }
        if len(versions) >= MAX_VERSIONS:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Maximum number of versions ({MAX_VERSIONS}) reached for '{arn}'",
            )
        published = self.store.publish_version(
            name, record.definition_hash, record.type, record.role_arn, description
        )
        return {
            "creationDate": published.created,
            "stateMachineVersionArn": self.version_arn(name, published.version),
        }

    async def publish_state_machine_version(self, params: Params) -> Params:
        name, _ = self.api._machine(params["stateMachineArn"])
        async with self.api._changing:
            return self.publish(name, params.get("description"), params.get("revisionId"))

    async def list_state_machine_versions(self, params: Params) -> Params:
        name, _ = self.api._machine(params["stateMachineArn"])
        return self.api.paged(
            self.store.versions(name),
            params,
            {"action": "ListStateMachineVersions", "name": name},
            "stateMachineVersions",
            lambda r: {
                "stateMachineVersionArn": self.version_arn(name, r.version),
                "creationDate": r.created,
            },
        )

    async def delete_state_machine_version(self, params: Params) -> Params:
        name, number = self.version_parts(params["stateMachineVersionArn"])
        async with self.api._changing:
            users = [
                self.alias_arn(name, a.alias)
                for a in self.store.aliases(name)
                if any(version == number for version, _ in a.routing)
            ]
            if users:
                raise ApiError(
                    "ConflictException",
                    "Version to be deleted must not be referenced by an alias. Current list of"
                    f" aliases referencing this version: [{', '.join(users)}]",
                )
            self.store.delete_version(name, number)  # deleting a missing version is a no-op
        return {}

    def describe_version(self, arn: str) -> Params:
        """DescribeStateMachine's answer for a version ARN."""
        record = self._version_of(arn, "StateMachineDoesNotExist")
        answer: Params = {
            "stateMachineArn": self.version_arn(record.name, record.version),
            "name": record.name,
            "status": "ACTIVE",
            "definition": record.definition,
            "roleArn": record.role_arn or self.api.engine.role_arn(record.name),
            "type": record.type,
            "creationDate": record.created,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": {"enabled": False},
            "revisionId": record.definition_hash,
        }
        if record.description:
            answer["description"] = record.description
        return answer

    # -- aliases -------------------------------------------------------------------------------

    def _routing(self, routing: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
        """The state machine and (version, weight) pairs of a routingConfiguration."""
        if not 1 <= len(routing) <= 2:
            raise ApiError(
                "ValidationException", "Routing configuration must contain one or two versions"
            )
        names, pairs = set(), []
        for entry in routing:
            self.version_parts(entry["stateMachineVersionArn"], "ValidationException")
            record = self._version_of(entry["stateMachineVersionArn"])
            weight = entry["weight"]
            if not 0 <= weight <= 100:
                raise ApiError("ValidationException", "Weights must be between 0 and 100")
            names.add(record.name)
            pairs.append((record.version, int(weight)))
        if len(names) != 1:
            raise ApiError(
                "ValidationException",
                "Routing configuration must contain versions of the same state machine",
            )
        if len({version for version, _ in pairs}) != len(pairs):
            raise ApiError(
                "ValidationException", "Routing configuration must contain distinct versions"
            )
        if sum(weight for _, weight in pairs) != 100:
            raise ApiError(
                "ValidationException", "Sum of routing configuration weights must equal 100"
            )
        return names.pop(), pairs

    async def create_state_machine_alias(self, params: Params) -> Params:
        alias: str = params["name"]
        if not _ALIAS_NAME.match(alias):
            raise ApiError("ValidationException", f"Invalid alias name: '{alias}'")
        name, pairs = self._routing(params["routingConfiguration"])
        description = params.get("description")
        async with self.api._changing:
            existing = self.store.alias(name, alias)
            arn = self.alias_arn(name, alias)
            if existing is not None:
                if list(existing.routing) == pairs and existing.description == description:
                    return {"stateMachineAliasArn": arn, "creationDate": existing.created}
                raise ApiError(
                    "ConflictException", f"Alias already exists with another configuration: '{arn}'"
                )
            record = self.store.put_alias(name, alias, pairs, description)
        return {"stateMachineAliasArn": arn, "creationDate": record.created}

    def _described_alias(self, record: AliasRecord) -> Params:
        answer: Params = {
            "stateMachineAliasArn": self.alias_arn(record.name, record.alias),
            "name": record.alias,
            "routingConfiguration": [
                {"stateMachineVersionArn": self.version_arn(record.name, v), "weight": w}
                for v, w in record.routing
            ],
            "creationDate": record.created,
        }
        if record.description:
            answer["description"] = record.description
        if record.updated is not None:
            answer["updateDate"] = record.updated
        return answer

    async def describe_state_machine_alias(self, params: Params) -> Params:
        return self._described_alias(self._alias_of(params["stateMachineAliasArn"]))

    async def update_state_machine_alias(self, params: Params) -> Params:
        if "description" not in params and "routingConfiguration" not in params:
            raise ApiError(
                "ValidationException",
                "Either the description or the routing configuration must be specified",
            )
        async with self.api._changing:
            record = self._alias_of(params["stateMachineAliasArn"])
            pairs = list(record.routing)
            if "routingConfiguration" in params:
                name, pairs = self._routing(params["routingConfiguration"])
                if name != record.name:
                    raise ApiError(
                        "ValidationException",
                        "Routing configuration must contain versions of the alias's state machine",
                    )
            description = params.get("description", record.description)
            updated = self.store.put_alias(
                record.name, record.alias, pairs, description, update=True
            )
        return {"updateDate": updated.updated}

    async def delete_state_machine_alias(self, params: Params) -> Params:
        name, alias = self.alias_parts(params["stateMachineAliasArn"])
        async with self.api._changing:
            self.store.delete_alias(name, alias)  # gone already: AWS answers 200 too
        return {}

    async def list_state_machine_aliases(self, params: Params) -> Params:
        name, _ = self.api._machine(params["stateMachineArn"])
        return self.api.paged(
            self.store.aliases(name),
            params,
            {"action": "ListStateMachineAliases", "name": name},
            "stateMachineAliases",
            lambda r: {
                "stateMachineAliasArn": self.alias_arn(name, r.alias),
                "creationDate": r.created,
            },
        )

    # -- starting through a version or an alias ------------------------------------------------

    def resolve(self, name: str, qualifier: str) -> tuple[StateMachine, str, int, str | None]:
        """The machine, definition hash and version an execution started through
        ``qualifier`` (a version number or an alias name) runs, and the alias, if any."""
        alias = None
        if qualifier.isdigit():
            record = self.store.version(name, int(qualifier))
        else:
            found = self.store.alias(name, qualifier)
            if found is None:
                arn = self.alias_arn(name, qualifier)
                raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
            alias = qualifier
            versions = [v for v, _ in found.routing]
            weights = [w for _, w in found.routing]
            record = self.store.version(name, self._random.choices(versions, weights)[0])
        if record is None:
            arn = self.version_arn(name, int(qualifier)) if qualifier.isdigit() else qualifier
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        machine = self.api.engine.machine_of(
            record.definition_hash, self.version_arn(name, record.version)
        )
        if machine is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{name}'")
        kind = "EXPRESS" if record.type == "EXPRESS" else "STANDARD"
        if machine.type != kind or machine.name != name:
            machine = dataclasses.replace(machine, name=name, type=kind)  # type: ignore[arg-type]
        return machine, record.definition_hash, record.version, alias
