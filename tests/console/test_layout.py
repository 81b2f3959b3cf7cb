"""The console's graph layout: every state placed once, no overlaps, edges between borders,
loops routed beside the graph, containers holding their scopes, and large machines laid out."""

from __future__ import annotations

import copy
import json
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from orchestrator.console.layout import layout

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


def load(name: str) -> dict[str, Any]:
    """A definition shipped in definitions/."""
    doc: dict[str, Any] = json.loads((DEFINITIONS / name).read_text())
    return doc


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in result["nodes"]}


def edge(result: dict[str, Any], src: str, dst: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        e for e in result["edges"] if e["from"] == src and e["to"] == dst
    ]
    assert len(found) == 1, (src, dst, found)
    return found[0]


def inside(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    return bool(
        outer["x"] <= inner["x"]
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"]
    )


def on_border(point: list[int], n: dict[str, Any]) -> bool:
    x, y = point
    in_x = n["x"] <= x <= n["x"] + n["w"]
    in_y = n["y"] <= y <= n["y"] + n["h"]
    return (in_x and y in (n["y"], n["y"] + n["h"])) or (in_y and x in (n["x"], n["x"] + n["w"]))


def crosses(a: list[int], b: list[int], n: dict[str, Any]) -> bool:
    """Whether segment a-b passes through the interior of node n (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = n["x"] + 1, n["y"] + 1, n["x"] + n["w"] - 1, n["y"] + n["h"] - 1
    dx, dy = b[0] - a[0], b[1] - a[1]
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            lo = max(lo, q / p)
        else:
            hi = min(hi, q / p)
    return lo < hi


def check_geometry(result: dict[str, Any], crossings: bool = True) -> None:
    """Nodes of a scope do not overlap, all lie in the drawing and in their container; edges
    run from the source's border to the target's and (when checked) through no other node."""
    nodes = by_id(result)
    assert len(nodes) == len(result["nodes"])
    for n in result["nodes"]:
        assert all(isinstance(n[k], int) for k in ("x", "y", "w", "h"))
        assert n["x"] >= 0 and n["y"] >= 0 and n["w"] > 0 and n["h"] > 0
        assert n["x"] + n["w"] <= result["width"] and n["y"] + n["h"] <= result["height"]
        if n["parent"] is not None:
            assert inside(n, nodes[n["parent"]]), n["id"]
    scopes: dict[Any, list[dict[str, Any]]] = {}
    for n in result["nodes"]:
        scopes.setdefault(n["parent"], []).append(n)
    for group in scopes.values():  # sweep by y: only nodes sharing rows are compared
        group = sorted(group, key=lambda n: (n["y"], n["x"]))
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if b["y"] >= a["y"] + a["h"]:
                    break
                overlap_x = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                assert not overlap_x, (a["id"], b["id"])
    for e in result["edges"]:
        src, dst, pts = nodes[e["from"]], nodes[e["to"]], e["points"]
        assert len(pts) >= 2
        assert on_border(pts[0], src) and on_border(pts[-1], dst), e
        assert all(0 <= x <= result["width"] and 0 <= y <= result["height"] for x, y in pts)
        if crossings:
            others = [n for n in scopes[src["parent"]] if n["id"] not in (src["id"], dst["id"])]
            for a, b in pairwise(pts):
                assert not [n["id"] for n in others if crosses(a, b, n)], e


def chain(n: int) -> dict[str, Any]:
    states: dict[str, Any] = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(n - 1)}
    states[f"S{n - 1}"] = {"Type": "Succeed"}
    return {"StartAt": "S0", "States": states}


def fan_out(n: int) -> dict[str, Any]:
    """A Choice with n - 2 rules, each to its own Task, all joining a Succeed."""
    rules = [{"Variable": "$.k", "NumericEquals": i, "Next": f"T{i}"} for i in range(n - 2)]
    states: dict[str, Any] = {"Pick": {"Type": "Choice", "Choices": rules, "Default": "Done"}}
    for i in range(n - 2):
        states[f"T{i}"] = {"Type": "Task", "Resource": "arn:x", "Next": "Done"}
    states["Done"] = {"Type": "Succeed"}
    return {"StartAt": "Pick", "States": states}


def catching_chain(n: int) -> dict[str, Any]:
    """A chain of Tasks that all catch to one handler: many long edges."""
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}]
    states: dict[str, Any] = {
        f"S{i}": {"Type": "Task", "Resource": "arn:x", "Next": f"S{i + 1}", "Catch": catch}
        for i in range(n - 1)
    }
    states[f"S{n - 2}"]["Next"] = "Handle"
    states["Handle"] = {"Type": "Fail"}
    return {"StartAt": "S0", "States": states}


def test_call_center_is_laid_out_top_to_bottom() -> None:
    doc = load("CallCenterStateMachine.asl.json")
    result = layout(doc)
    nodes = by_id(result)
    assert sorted(nodes) == sorted([*doc["States"], "__start__", "__end__"])
    assert nodes["Open Case"]["type"] == "Task" and nodes["Is Case Resolved"]["type"] == "Choice"
    assert nodes["__start__"]["type"] == "Start" and nodes["__end__"]["type"] == "End"
    assert all(n["parent"] is None and n["branch"] is None for n in result["nodes"])
    assert edge(result, "__start__", "Open Case")["kind"] == "start"
    for e in result["edges"]:  # no loop here: every edge goes down
        assert nodes[e["to"]]["y"] > nodes[e["from"]]["y"], e
    choice = [e for e in result["edges"] if e["kind"] == "choice"]
    assert {(e["to"], e["label"]) for e in choice} == {
        ("Close Case", "$.Status == 1"),
        ("Escalate Case", "$.Status == 0"),
    }
    assert {e["from"] for e in result["edges"] if e["kind"] == "end"} == {"Fail", "Close Case"}
    assert {e["to"] for e in result["edges"] if e["kind"] == "end"} == {"__end__"}
    assert nodes["__start__"]["w"] == nodes["__start__"]["h"] == 28
    assert nodes["Open Case"]["h"] == 40 and nodes["Open Case"]["w"] == 120
    assert nodes["Is Case Resolved"]["w"] == 8 * len("Is Case Resolved") + 32
    # the two outcomes of the choice share a rank, side by side, 40 px apart; ranks 60 apart
    close, escalate = nodes["Close Case"], nodes["Escalate Case"]
    assert close["y"] == escalate["y"] and escalate["x"] - close["x"] - close["w"] == 40
    assert nodes["Assign Case"]["y"] - nodes["Open Case"]["y"] - 40 == 60
    # an edge over two ranks bends between them instead of taking a detour
    xs = [x for x, _ in edge(result, "Close Case", "__end__")["points"]]
    assert min(xs) >= close["x"] and max(xs) <= nodes["__end__"]["x"] + 28
    check_geometry(result)


def test_a_loop_is_routed_beside_the_graph() -> None:
    result = layout(load("CallCenterLoop.asl.json"))
    nodes = by_id(result)
    back = edge(result, "Escalate Case", "Work on Case")
    assert back["kind"] == "next"
    assert nodes["Work on Case"]["y"] < nodes["Escalate Case"]["y"]
    # the loop climbs in a lane to the right of every node it passes
    lane = max(x for x, _ in back["points"])
    assert lane > max(n["x"] + n["w"] for n in result["nodes"])
    assert min(y for _, y in back["points"]) < nodes["Work on Case"]["y"]
    assert {e["from"] for e in result["edges"] if e["kind"] == "end"} == {"Close Case"}
    check_geometry(result)


def test_layout_is_deterministic() -> None:
    doc = load("CallCenterLoop.asl.json")
    assert layout(doc) == layout(copy.deepcopy(doc))
    json.dumps(layout(doc))  # serialisable


def test_jsonata_condition_labels() -> None:
    result = layout(load("CallCenterJsonata.asl.json"))
    labels = {
        (e["to"], e["kind"], e["label"]) for e in result["edges"] if e["from"] == "Is Case Resolved"
    }
    assert labels == {
        ("Close Case", "choice", "$resolved"),
        ("Escalate Case", "default", "Default"),
    }
    long = "{% $states.input.order.total > 100 and $states.input.order.country = 'FR' %}"
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {"Type": "Choice", "Choices": [{"Condition": long, "Next": "A"}], "Default": "A"},
            "A": {"Type": "Succeed"},
        },
    }
    label = next(e["label"] for e in layout(doc)["edges"] if e["kind"] == "choice")
    assert len(label) == 40 and label.startswith("$states.input.order.total > 100 and")
    assert "{%" not in label


def test_jsonpath_rule_labels() -> None:
    rules = [
        {"Variable": "$.name", "StringEquals": "Ann", "Next": "A"},
        {"Variable": "$.a", "NumericLessThanEqualsPath": "$.b", "Next": "A"},
        {"Not": {"Variable": "$.x", "IsPresent": True}, "Next": "A"},
        {
            "And": [
                {"Variable": "$.n", "NumericGreaterThan": 1},
                {"Variable": "$.ok", "BooleanEquals": True},
            ],
            "Next": "A",
        },
        {"Variable": "$.f", "StringMatches": "log-*.txt", "Next": "A"},
        {"Variable": "$.v", "IsNull": False, "Next": "A"},
    ]
    doc = {
        "StartAt": "C",
        "States": {"C": {"Type": "Choice", "Choices": rules}, "A": {"Type": "Succeed"}},
    }
    labels = [e["label"] for e in layout(doc)["edges"] if e["kind"] == "choice"]
    assert labels == [
        '$.name == "Ann"',
        "$.a <= $.b",
        "!($.x is present)",
        "$.n > 1 && $.ok == true",
        '$.f matches "log-*.txt"',
        "$.v is not null",
    ]
    check_geometry(layout(doc))


def test_catch_edges() -> None:
    doc = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:x",
                "Next": "Done",
                "Catch": [
                    {"ErrorEquals": ["States.Timeout", "States.TaskFailed"], "Next": "Recover"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Done"},
                ],
            },
            "Recover": {"Type": "Pass", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    result = layout(doc)
    catches = [(e["to"], e["label"]) for e in result["edges"] if e["kind"] == "catch"]
    assert catches == [("Recover", "States.Timeout, States.TaskFailed"), ("Done", "States.ALL")]
    assert all(e["from"] == "Call" for e in result["edges"] if e["kind"] == "catch")
    check_geometry(result)


def branch(*names: str) -> dict[str, Any]:
    """A scope that runs the named Pass states in order."""
    states: dict[str, Any] = {n: {"Type": "Pass", "Next": m} for n, m in pairwise(names)}
    states[names[-1]] = {"Type": "Pass", "End": True}
    return {"StartAt": names[0], "States": states}


def test_parallel_branches_are_side_by_side_lanes() -> None:
    doc = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [branch("A1", "A2"), branch("B1", "B2", "B3"), branch("C1")],
                "Next": "After",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}],
            },
            "After": {"Type": "Succeed"},
            "Oops": {"Type": "Fail"},
        },
    }
    result = layout(doc)
    nodes = by_id(result)
    fan = nodes["Fan"]
    assert fan["container"] and fan["type"] == "Parallel" and fan["parent"] is None
    lanes: dict[int, list[dict[str, Any]]] = {}
    for n in result["nodes"]:
        if n["parent"] == "Fan":
            assert inside(n, fan) and not n["container"]
            lanes.setdefault(n["branch"], []).append(n)
    assert {b: sorted(n["id"] for n in ns) for b, ns in lanes.items()} == {
        0: ["A1", "A2"],
        1: ["B1", "B2", "B3"],
        2: ["C1"],
    }
    spans = [
        (min(n["x"] for n in lanes[b]), max(n["x"] + n["w"] for n in lanes[b])) for b in range(3)
    ]
    assert spans[0][1] < spans[1][0] and spans[1][1] < spans[2][0]  # left to right, apart
    assert nodes["A1"]["y"] < nodes["A2"]["y"] and nodes["A1"]["y"] == nodes["B1"]["y"]
    # inside a branch: no start or end node and no edge out of the last state
    assert not [e for e in result["edges"] if e["from"] in ("A2", "B3", "C1")]
    assert edge(result, "A1", "A2")["kind"] == "next"
    # the container's transitions leave its box, from the bottom
    after = edge(result, "Fan", "After")
    assert after["points"][0][1] == fan["y"] + fan["h"]
    assert edge(result, "Fan", "Oops")["label"] == "States.ALL"
    assert {e["from"] for e in result["edges"] if e["kind"] == "end"} == {"After", "Oops"}
    check_geometry(result)


def test_map_in_parallel_in_map_nests() -> None:
    inner_map = {
        "Type": "Map",
        "Iterator": branch("Deep1", "Deep2"),  # the older field name
        "End": True,
    }
    parallel = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "InnerMap", "States": {"InnerMap": inner_map}},
            branch("Side"),
        ],
        "Next": "Tail",
    }
    doc = {
        "StartAt": "Outer",
        "States": {
            "Outer": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Par",
                    "States": {"Par": parallel, "Tail": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    result = layout(doc)
    nodes = by_id(result)
    assert [nodes[i]["parent"] for i in ("Outer", "Par", "Tail", "InnerMap", "Side", "Deep1")] == [
        None,
        "Outer",
        "Outer",
        "Par",
        "Par",
        "InnerMap",
    ]
    assert nodes["Par"]["branch"] is None and nodes["InnerMap"]["branch"] == 0
    assert nodes["Side"]["branch"] == 1 and nodes["Deep1"]["branch"] is None
    assert [n["id"] for n in result["nodes"] if n["container"]] == ["Outer", "Par", "InnerMap"]
    for child, parent in (("Deep2", "InnerMap"), ("InnerMap", "Par"), ("Par", "Outer")):
        assert inside(nodes[child], nodes[parent])
    # containers come before their contents, so a renderer draws the contents on top
    order = [n["id"] for n in result["nodes"]]
    assert (
        order.index("Outer") < order.index("Par") < order.index("InnerMap") < order.index("Deep1")
    )
    assert edge(result, "Par", "Tail")["points"][0][1] == nodes["Par"]["y"] + nodes["Par"]["h"]
    check_geometry(result)


def test_deep_nesting() -> None:
    body: dict[str, Any] = branch("Leaf")
    for depth in range(30):
        body = {
            "StartAt": f"M{depth}",
            "States": {f"M{depth}": {"Type": "Map", "ItemProcessor": body, "End": True}},
        }
    result = layout({"StartAt": body["StartAt"], "States": body["States"]})
    nodes = by_id(result)
    assert len(nodes) == 33
    assert nodes["Leaf"]["parent"] == "M0" and nodes["M0"]["parent"] == "M1"
    check_geometry(result)


def test_unreachable_and_self_loop_states() -> None:
    doc = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Again"},
            "Again": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThan": 3, "Next": "Again"}],
                "Default": "Stop",
            },
            "Stop": {"Type": "Succeed"},
            "Orphan": {"Type": "Pass", "Next": "Wait"},
        },
    }
    result = layout(doc)
    nodes = by_id(result)
    loop = edge(result, "Again", "Again")
    assert loop["kind"] == "choice" and loop["label"] == "$.n < 3"
    assert len(loop["points"]) > 2
    reachable = ("Wait", "Again", "Stop")
    assert nodes["Orphan"]["y"] > max(nodes[n]["y"] for n in reachable)
    assert nodes["__end__"]["y"] > nodes["Orphan"]["y"]
    check_geometry(result)


def test_malformed_parts_are_skipped() -> None:
    for doc in (
        {},
        {"StartAt": "X", "States": []},
        {"StartAt": ["A"], "States": {"A": 5, "B": {"Type": "Pass", "Next": "Nowhere"}}},
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Branches": [3, {"States": "no"}, {}], "End": True},
                "M": {"Type": "Map", "ItemProcessor": None},
                "C": {"Type": "Choice", "Choices": [7, {"Next": 3}, {"And": 1, "Next": "P"}]},
                "T": {"Type": 4, "Catch": [None, {"ErrorEquals": "x", "Next": "P"}]},
            },
        },
    ):
        result = layout(doc)
        assert {"__start__", "__end__"} <= set(by_id(result))
        check_geometry(result)


def test_many_long_edges_use_a_side_lane() -> None:
    result = layout(catching_chain(80))
    catches = [e for e in result["edges"] if e["kind"] == "catch"]
    assert len(catches) == 79 and all(e["to"] == "Handle" for e in catches)
    # beyond the budget of bend points, long edges run down a lane left of the nodes
    left = min(n["x"] for n in result["nodes"])
    assert any(min(x for x, _ in e["points"]) < left for e in catches)
    # the states stay in one straight column, the passing edges hang beside them
    nodes = by_id(result)
    assert len({nodes[f"S{i}"]["x"] for i in range(79)}) == 1
    check_geometry(result)


def test_a_thousand_states() -> None:
    results = []
    for doc in (chain(1000), fan_out(1000), catching_chain(1000)):
        started = time.perf_counter()
        result = layout(doc)
        elapsed = time.perf_counter() - started
        print(f"{len(doc['States'])} states: {elapsed * 1000:.1f} ms")  # shown with -s
        nodes = by_id(result)
        assert len(result["nodes"]) == len(nodes) == 1002
        assert set(nodes) == {*doc["States"], "__start__", "__end__"}
        check_geometry(result, crossings=False)
        results.append(result)
    chained, fan = by_id(results[0]), results[1]
    ys = [chained[f"S{i}"]["y"] for i in range(1000)]
    assert ys == sorted(set(ys))  # one rank per state, in order
    fan_nodes = by_id(fan)
    assert len({fan_nodes[f"T{i}"]["y"] for i in range(998)}) == 1
    assert len([e for e in fan["edges"] if e["kind"] == "choice"]) == 998
