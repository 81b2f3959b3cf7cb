"""The five call-center functions behave as the tutorial's Node.js code does."""

from __future__ import annotations

import pytest

from messages import JsonValue, TaskSucceeded
from workers import CLI_NAMES, get_function, invoke_payload
from workers.callcenter import make_rng, reseed
from workers.runtime import Function


def run(name: str, payload: dict[str, object]) -> object:
    """Invoke function ``name`` and return its output, failing the test on a TaskFailed."""
    result = invoke_payload(get_function(name), payload)  # type: ignore[arg-type]
    assert isinstance(result, TaskSucceeded), result
    return result.output


def test_open_case() -> None:
    output = run("OpenCaseFunction", {"inputCaseID": "001"})
    assert output == {"Case": "001", "Message": "Case 001: opened..."}


def test_assign_case() -> None:
    output = run("AssignCaseFunction", {"Case": "001", "Message": "Case 001: opened..."})
    assert output == {"Case": "001", "Message": "Case 001: opened...assigned..."}


def test_work_on_case_appends_what_status_says() -> None:
    message = "Case 001: opened...assigned..."
    seen = set()
    for _ in range(40):
        output = run("WorkOnCaseFunction", {"Case": "001", "Message": message})
        assert isinstance(output, dict)
        assert set(output) == {"Case", "Status", "Message"}
        assert output["Case"] == "001"
        suffix = "resolved..." if output["Status"] == 1 else "unresolved..."
        assert output["Status"] in (0, 1)
        assert output["Message"] == message + suffix
        seen.add(output["Status"])
    assert seen == {0, 1}


@pytest.mark.parametrize("status", [0, 1])
def test_close_case_passes_status_through(status: int) -> None:
    payload = {"Case": "001", "Status": status, "Message": "Case 001: opened...assigned..."}
    output = run("CloseCaseFunction", payload)
    assert output == {**payload, "Message": "Case 001: opened...assigned...closed."}


@pytest.mark.parametrize("status", [0, 1])
def test_escalate_case_passes_status_through(status: int) -> None:
    payload = {"Case": "001", "Status": status, "Message": "Case 001: opened...assigned..."}
    output = run("EscalateCaseFunction", payload)
    assert output == {**payload, "Message": "Case 001: opened...assigned...escalating."}


def test_unknown_input_fields_are_ignored() -> None:
    output = run("OpenCaseFunction", {"inputCaseID": "7", "extra": True})
    assert output == {"Case": "7", "Message": "Case 7: opened..."}


def test_whole_tutorial_chain_reads_as_the_tutorial() -> None:
    case = run("OpenCaseFunction", {"inputCaseID": "001"})
    case = run("AssignCaseFunction", case)  # type: ignore[arg-type]
    case = run("WorkOnCaseFunction", case)  # type: ignore[arg-type]
    assert isinstance(case, dict)
    final = run("CloseCaseFunction" if case["Status"] == 1 else "EscalateCaseFunction", case)
    assert final in (
        {"Case": "001", "Status": 1, "Message": "Case 001: opened...assigned...resolved...closed."},
        {
            "Case": "001",
            "Status": 0,
            "Message": "Case 001: opened...assigned...unresolved...escalating.",
        },
    )


def _statuses(work: Function, count: int) -> list[JsonValue]:
    payload: dict[str, JsonValue] = {"Case": "1", "Message": ""}
    statuses: list[JsonValue] = []
    for _ in range(count):
        result = invoke_payload(work, payload)
        assert isinstance(result, TaskSucceeded) and isinstance(result.output, dict)
        statuses.append(result.output["Status"])
    return statuses


def test_worker_seed_makes_statuses_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    work = get_function("WorkOnCaseFunction")
    monkeypatch.setenv("WORKER_SEED", "42")
    try:
        reseed()
        first = _statuses(work, 50)
        reseed()
        second = _statuses(work, 50)
        assert first == second
        assert set(first) == {0, 1}
        # The sequence is the one any process seeded alike draws (what the worker test uses).
        rng = make_rng("42")
        assert first == [rng.randint(0, 1) for _ in range(50)]
        reseed("43")
        assert _statuses(work, 50) != first
    finally:
        monkeypatch.delenv("WORKER_SEED")
        reseed()


def test_cli_names_map_to_registered_functions() -> None:
    assert dict(CLI_NAMES) == {
        "open": "OpenCaseFunction",
        "assign": "AssignCaseFunction",
        "work": "WorkOnCaseFunction",
        "close": "CloseCaseFunction",
        "escalate": "EscalateCaseFunction",
    }
    for name in CLI_NAMES.values():
        assert get_function(name).name == name


def test_the_five_functions_never_wait_so_workers_call_them_on_the_event_loop() -> None:
    assert {name: get_function(name).blocks for name in CLI_NAMES.values()} == dict.fromkeys(
        CLI_NAMES.values(), False
    )
