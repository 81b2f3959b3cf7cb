"""Choice rules against the AWS-recorded conformance corpus (``choice_operators`` group).

Each case is a state machine whose Choice state ``CheckValues`` branches to Pass states with a
static ``Result``; the expected output is the Result of the Pass state AWS took. The corpus sits
beside the checkout (``<checkout>/../shared/conformance/cases.jsonl``); without it these tests
are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl.choice import compile_choices

CASES_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases.jsonl"
GROUP = "choice_operators"
CHOICE_STATE = "CheckValues"


def _load_cases() -> list[dict[str, Any]]:
    if not CASES_FILE.is_file():
        return []
    with CASES_FILE.open(encoding="utf-8") as lines:
        records = (json.loads(line) for line in lines if line.strip())
        return [record for record in records if record.get("group") == GROUP]


CASES = _load_cases()
_passed: list[str] = []

pytestmark = pytest.mark.conformance


def _run(case: dict[str, Any]) -> Any:
    """The output of the Pass state the Choice state leads to, for the case's input."""
    definition = json.loads(case["definition"])
    states = definition["States"]
    choice = states[CHOICE_STATE]
    assert choice["Type"] == "Choice"
    branches, problems = compile_choices(choice["Choices"], f"/States/{CHOICE_STATE}/Choices")
    assert problems == [], [p.describe() for p in problems]
    data = json.loads(case["input"])
    taken = next((b.next for b in branches if b.rule.evaluate(data, None)), choice.get("Default"))
    assert taken is not None, "no choice matched and there is no Default"
    target = states[taken]
    assert target["Type"] == "Pass"
    return target["Result"]


@pytest.mark.skipif(not CASES, reason=f"conformance corpus not found at {CASES_FILE}")
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_choice_case(case: dict[str, Any]) -> None:
    assert case["expected"]["status"] == "SUCCEEDED"
    assert _run(case) == case["expected"]["output"], (case["definition"], case["input"])
    _passed.append(case["id"])


def test_choice_cases_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs after the cases (file order): reports the pass count, skips without the corpus."""
    if not CASES_FILE.is_file():
        pytest.skip(f"conformance corpus not found: looked for {CASES_FILE}")
    with capsys.disabled():  # shown even when output is captured
        print(f"\n{GROUP} conformance: {len(_passed)}/{len(CASES)} cases passed")
    assert CASES, f"no {GROUP!r} cases in {CASES_FILE}"
