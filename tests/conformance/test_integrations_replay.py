"""The AWS-recorded service-integration executions (``integrations.jsonl``), replayed.

Each case runs in-process with :class:`~tests.conformance.replay.Replay` answering its calls
from the recording; the requests must equal AWS's and status, error and output must match
(tier A). Cases whose definitions use what another issue brings (JSONata, Distributed Map)
are refused as UNSUPPORTED and counted apart. A ratchet: a new mismatch fails, and so does a
listed one that starts to pass.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conformance.corpus import (
    load_cases,
    normalise,
    run_recorded,
)
from tests.conformance.replay import Replay

pytestmark = pytest.mark.conformance
# Replayable cases that do not match AWS yet, with why.
KNOWN_FAILURES: dict[str, str] = {}
# The share of replayable cases that must match (the target).
TARGET = 0.95


@dataclass
class Outcome:
    tags: list[str]
    supported: bool
    tier_a: bool = False
    why: str = ""
    mismatches: list[str] = field(default_factory=list)


def replay_case(case: dict[str, Any]) -> Outcome:
    """Run one recorded case against its recorded calls."""
    tags = case.get("tags") or []
    replay = Replay(case)
    run = run_recorded(case, replay)
    if run.result is None:
        return Outcome(tags, run.supported, why=run.refusal)
    result = run.result
    state, expected = result.state, case["expected"]
    events = [event.to_aws() for event in result.history]
    why = ""
    if state.status != expected["status"]:
        why = f"status {state.status} ({state.error}: {str(state.cause)[:200]}), expected {expected['status']}"
    elif "error" in expected and state.error != expected["error"]:
        why = f"error {state.error!r}, expected {expected['error']!r}"
    elif "output" in expected:
        output = normalise(state.output, case, events)
        # The replayed results were normalised once by the recording: its rules are applied
        # to the expected output too, so both sides have had them (they are idempotent).
        if output not in (expected["output"], normalise(expected["output"], case)):
            why = f"output {json.dumps(output)[:300]}, expected {json.dumps(expected['output'])[:300]}"
    if not why and replay.mismatches:
        why = "; ".join(replay.mismatches)[:600]
    return Outcome(tags, True, not why, why, replay.mismatches)


def test_integrations_replay(capsys: pytest.CaptureFixture[str]) -> None:
    cases = load_cases("integrations.jsonl")
    outcomes = {case["id"]: replay_case(case) for case in cases}
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in outcomes.values():
        for tag in [*outcome.tags, "total"]:
            table[tag]["cases"] += 1
            table[tag]["ran"] += outcome.supported
            table[tag]["A"] += outcome.tier_a
    lines = [f"{'tag':<18}{'cases':>7}{'ran':>6}{'tier A':>8}"]
    for tag, row in sorted(table.items(), key=lambda item: (item[0] == "total", -item[1]["cases"])):
        lines.append(f"{tag:<18}{row['cases']:>7}{row['ran']:>6}{row['A']:>8}")
    refused = Counter(o.why for o in outcomes.values() if not o.supported)
    with capsys.disabled():
        print("\nintegrations replay (recorded calls answer the engine's; tier A per tag):")
        print("\n".join(lines))
        for why, count in refused.most_common():
            print(f"  refused as unsupported ({count}): {why[:160]}")
    failures = {i: o.why for i, o in outcomes.items() if o.supported and not o.tier_a}
    new = {i: why for i, why in failures.items() if i not in KNOWN_FAILURES}
    assert not new, json.dumps(new, indent=1)[:8000]
    fixed = set(KNOWN_FAILURES) - set(failures)
    assert not fixed, f"now passing, take off KNOWN_FAILURES: {sorted(fixed)}"
    total = table["total"]
    assert total["A"] >= TARGET * total["ran"], f"{total['A']} of {total['ran']} replayable cases"
