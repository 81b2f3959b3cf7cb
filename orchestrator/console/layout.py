"""Lay out a state machine definition as a top-to-bottom graph for the console's SVG view.

:func:`layout` turns a validated Amazon States Language definition into boxes and polylines
in pixels; the browser only draws them. Each scope (the top level, a Parallel branch, a Map
iterator) gets a Sugiyama-style layout: back edges are found by a depth-first search from
the scope's StartAt, ranks are longest paths over the remaining edges, edges spanning several
ranks pass through zero-width dummy slots, and a few barycenter sweeps order each rank.
Parallel and Map states are boxes sized to hold their scopes, laid out first (innermost
first), then placed. Loops and the long edges beyond the dummy budget run in lanes beside
the scope, so the cost stays near linear in states plus edges.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

RANK_GAP = 60  # vertical space between ranks
NODE_GAP = 40  # horizontal space between two states of a rank, and between branches
DUMMY_GAP = 20  # horizontal space beside an edge passing through a rank
PAD = 24  # container padding around its contents
TITLE = 24  # container title band, above the padding
MARGIN = 20  # around the whole drawing
NODE_H = 40
MIN_W, MAX_W = 120, 320
DOT = 28  # the start and end circles
LANE_GAP, LANE_STEP, LANES = 16, 8, 6  # side lanes: distance from the nodes, spacing, count
LOOP_PAD = 32  # room above the first / below the last rank for a lane's horizontal run
LABEL_MAX = 40
MAX_DEPTH = 64  # scopes nested deeper are drawn as empty boxes (the JSON depth cap is lower)
SWEEPS = 4
START, END = "__start__", "__end__"
_CONTAINERS = ("Parallel", "Map")
_RELATIONS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_FAMILIES = ("String", "Numeric", "Boolean", "Timestamp")
_FAR = 1 << 40  # a sort key beyond any coordinate: lane edges take the outermost ports


@dataclass
class _Edge:
    src: int  # index in the scope's nodes
    dst: int
    kind: str
    label: str | None
    points: list[list[int]] = field(default_factory=list)


@dataclass
class _Scope:
    w: int
    h: int
    nodes: list[_Node]
    edges: list[_Edge]


@dataclass
class _Node:
    id: str
    name: str
    type: str
    w: int
    h: int
    x: int = 0  # relative to the scope
    y: int = 0
    # inner scopes: (scope, x and y offset in this node, Parallel branch index)
    children: list[tuple[_Scope, int, int, int | None]] = field(default_factory=list)


def layout(definition: dict[str, Any]) -> dict[str, Any]:
    """Lay out ``definition`` (parsed, validated ASL) as nodes and edges in pixels.

    Returns ``{"width", "height", "nodes", "edges"}``: a node per state (containers before
    their contents) then ``__start__`` and ``__end__``, each with ``id``, ``name``, ``type``,
    ``parent``, ``branch``, ``container``, ``x``, ``y``, ``w``, ``h``; an edge per transition
    with ``from``, ``to``, ``kind``, ``label`` and ``points``, a polyline between borders.
    """
    used = {START, END}
    doc = definition if isinstance(definition, dict) else {}
    top = _layout_scope(used, doc.get("States"), doc.get("StartAt"), True, 0)
    nodes: list[dict[str, Any]] = []
    ends: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def emit(scope: _Scope, ox: int, oy: int, parent: str | None, branch: int | None) -> None:
        # recursion as deep as the nesting of scopes; offsets accumulate on the way down
        for nd in scope.nodes:
            x, y = nd.x + ox, nd.y + oy
            record: dict[str, Any] = dict(id=nd.id, name=nd.name, type=nd.type, parent=parent)
            record.update(branch=branch, container=nd.type in _CONTAINERS, x=x, y=y, w=nd.w, h=nd.h)
            (ends if nd.id in (START, END) else nodes).append(record)
            for child, cx, cy, index in nd.children:
                emit(child, x + cx, y + cy, nd.id, index)
        for e in scope.edges:
            points = [[px + ox, py + oy] for px, py in e.points]
            ids = {"from": scope.nodes[e.src].id, "to": scope.nodes[e.dst].id}
            edges.append(ids | {"kind": e.kind, "label": e.label, "points": points})

    emit(top, MARGIN, MARGIN, None, None)
    size = {"width": top.w + 2 * MARGIN, "height": top.h + 2 * MARGIN}
    return size | {"nodes": nodes + ends, "edges": edges}


def _unique(used: set[str], name: str) -> str:
    """``name``, or ``name#2``... when taken (only an unvalidated definition repeats names)."""
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{name}#{n}"
    used.add(candidate)
    return candidate


def _make_node(used: set[str], name: str, spec: dict[str, Any], depth: int) -> _Node:
    """A state's node; a Parallel or Map one holds its scopes, laid out and placed inside."""
    kind = spec.get("Type")
    kind = kind if isinstance(kind, str) else "Unknown"
    node = _Node(
        _unique(used, name), name, kind, min(MAX_W, max(MIN_W, 8 * len(name) + 32)), NODE_H
    )
    if kind not in _CONTAINERS or depth >= MAX_DEPTH:
        return node
    bodies: list[tuple[int | None, dict[str, Any]]] = []
    if kind == "Parallel":
        raw = spec.get("Branches")
        if isinstance(raw, list):
            bodies = [(i, b) for i, b in enumerate(raw) if isinstance(b, dict)]
    else:
        body = spec.get("ItemProcessor")
        body = body if isinstance(body, dict) else spec.get("Iterator")
        if isinstance(body, dict):
            bodies = [(None, body)]
    scopes = [
        (i, _layout_scope(used, b.get("States"), b.get("StartAt"), False, depth + 1))
        for i, b in bodies
    ]
    inner = sum(s.w for _, s in scopes) + NODE_GAP * max(0, len(scopes) - 1)
    node.w = max(node.w, inner + 2 * PAD)
    node.h = TITLE + 2 * PAD + max((s.h for _, s in scopes), default=0)
    cx = (node.w - inner) // 2
    for i, s in scopes:  # branches side by side, top-aligned
        node.children.append((s, cx, TITLE + PAD, i))
        cx += s.w + NODE_GAP
    return node


def _cut(text: str) -> str:
    """``text`` on one line, at most LABEL_MAX characters."""
    text = " ".join(text[: 4 * LABEL_MAX].split())
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _rule_text(rule: Any, depth: int) -> str:
    """A readable summary of a Choice rule, e.g. ``$.Status == 1``; only its start matters."""
    if not isinstance(rule, dict):
        return "?"
    condition = rule.get("Condition")
    if isinstance(condition, str):
        text = condition.strip()
        if text.startswith("{%") and text.endswith("%}"):
            text = text[2:-2].strip()
        return text
    if isinstance(condition, bool):
        return "true" if condition else "false"
    if depth > 4:  # the label is cut at LABEL_MAX anyway; bounds the recursion
        return "…"
    for key, sep in (("And", " && "), ("Or", " || ")):
        subs = rule.get(key)
        if isinstance(subs, list):
            parts: list[str] = []
            for sub in subs:
                if sum(len(p) + len(sep) for p in parts) > LABEL_MAX:
                    break
                text = _rule_text(sub, depth + 1)
                compound = isinstance(sub, dict) and ("And" in sub or "Or" in sub)
                parts.append(f"({text})" if compound else text)
            return sep.join(parts)
    if "Not" in rule:
        return f"!({_rule_text(rule['Not'], depth + 1)})"
    var = rule.get("Variable")
    var = var if isinstance(var, str) else "?"
    for key, operand in rule.items():
        if key.startswith("Is") and len(key) > 2:
            test = key[2:].lower()
            return f"{var} is {test}" if operand is not False else f"{var} is not {test}"
        path = key.endswith("Path")
        base = key[:-4] if path else key
        for family in _FAMILIES:
            symbol = _RELATIONS.get(base[len(family) :]) if base.startswith(family) else None
            if symbol:
                shown = str(operand) if path else json.dumps(operand, default=str)
                return f"{var} {symbol} {shown}"
    return var


def _edges(
    nodes: list[_Node],
    specs: list[dict[str, Any] | None],
    index: dict[str, int],
    start: Any,
    top: bool,
) -> list[_Edge]:
    """The scope's transitions; targets outside the scope are skipped."""
    edges: list[_Edge] = []

    def link(src: int, target: Any, kind: str, label: str | None) -> None:
        if isinstance(target, str) and target in index:
            edges.append(_Edge(src, index[target], kind, label))

    if top:
        link(0, start, "start", None)
    for i, spec in enumerate(specs):
        if spec is None:
            continue
        kind = nodes[i].type
        if kind == "Choice":
            choices = spec.get("Choices")
            for rule in choices if isinstance(choices, list) else []:
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    link(i, rule["Next"], "choice", _cut(_rule_text(rule, 0)))
            link(i, spec.get("Default"), "default", "Default")
        else:
            link(i, spec.get("Next"), "next", None)
        catches = spec.get("Catch")
        for catch in catches if isinstance(catches, list) else []:
            if isinstance(catch, dict):
                errors = catch.get("ErrorEquals")
                text = ", ".join(map(str, errors[:16])) if isinstance(errors, list) else ""
                link(i, catch.get("Next"), "catch", _cut(text) if text else None)
        if top and (kind in ("Succeed", "Fail") or spec.get("End") is True):
            edges.append(_Edge(i, len(nodes) - 1, "end", None))
    return edges


def _layout_scope(used: set[str], states: Any, start: Any, top: bool, depth: int) -> _Scope:
    """Lay out one scope (the top level adds the start and end nodes) at the origin."""
    nodes: list[_Node] = []
    specs: list[dict[str, Any] | None] = []
    index: dict[str, int] = {}
    if top:
        nodes.append(_Node(START, "Start", "Start", DOT, DOT))
        specs.append(None)
    for name, spec in states.items() if isinstance(states, dict) else ():
        if isinstance(name, str) and isinstance(spec, dict):
            index[name] = len(nodes)
            nodes.append(_make_node(used, name, spec, depth))
            specs.append(spec)
    if top:
        nodes.append(_Node(END, "End", "End", DOT, DOT))
        specs.append(None)
    if not nodes:
        return _Scope(0, 0, [], [])
    edges = _edges(nodes, specs, index, start, top)
    root = 0 if top else index.get(start) if isinstance(start, str) else None
    rank, pre = _rank(len(nodes), edges, root, len(nodes) - 1 if top else None)
    w, h = _place(nodes, edges, rank, pre)
    return _Scope(w, h, nodes, edges)


def _rank(
    n: int, edges: list[_Edge], root: int | None, end: int | None
) -> tuple[list[int], list[int]]:
    """Ranks (longest paths, back edges ignored) and DFS preorder numbers of the nodes."""
    out: list[list[int]] = [[] for _ in range(n)]
    for ei, e in enumerate(edges):
        out[e.src].append(ei)
    state, pre, back = [0] * n, [0] * n, [False] * len(edges)
    reach = [False] * n
    counter = 0
    # root first; then every node left over, in definition order, so all of them are ranked
    for r in ([root] if root is not None else []) + list(range(n)):
        if state[r]:
            continue
        state[r], pre[r], counter = 1, counter, counter + 1
        stack = [(r, 0)]
        while stack:  # iterative: a 1,000-state chain is 1,000 deep
            v, k = stack[-1]
            if k < len(out[v]):
                stack[-1] = (v, k + 1)
                t = edges[out[v][k]].dst
                if state[t] == 1:
                    back[out[v][k]] = True
                elif state[t] == 0:
                    state[t], pre[t], counter = 1, counter, counter + 1
                    stack.append((t, 0))
            else:
                state[v] = 2
                stack.pop()
        if r == root:
            reach = [s != 0 for s in state]
    rank = [0] * n
    group = [0 if reach[v] else 1 for v in range(n)]
    if end is not None:
        group[end] = 2  # placed below everything
    base = 0
    for g in (0, 1):  # reachable states first; the others after the deepest of them
        indeg = [0] * n
        for ei, e in enumerate(edges):
            if not back[ei] and group[e.src] == g and group[e.dst] == g:
                indeg[e.dst] += 1
        queue = deque(v for v in range(n) if group[v] == g and indeg[v] == 0)
        for v in queue:
            rank[v] = base
        while queue:
            v = queue.popleft()
            for ei in out[v]:
                t = edges[ei].dst
                if not back[ei] and group[t] == g:
                    rank[t] = max(rank[t], rank[v] + 1)
                    indeg[t] -= 1
                    if indeg[t] == 0:
                        queue.append(t)
        members = [rank[v] for v in range(n) if group[v] == g]
        base = max(members, default=base - 1) + 1
    if end is not None:
        rank[end] = base
    return rank, pre


def _range_table(values: list[int], pick: Callable[[int, int], int]) -> list[list[int]]:
    """A sparse table: the min or max of any range of ranks in constant time."""
    table = [values]
    span = 2
    while span <= len(values):
        prev, half = table[-1], span // 2
        table.append([pick(prev[i], prev[i + half]) for i in range(len(values) - span + 1)])
        span *= 2
    return table


def _query(table: list[list[int]], a: int, b: int, pick: Callable[[int, int], int]) -> int:
    k = (b - a + 1).bit_length() - 1
    return pick(table[k][a], table[k][b - (1 << k) + 1])


def _place(
    nodes: list[_Node], edges: list[_Edge], rank: list[int], pre: list[int]
) -> tuple[int, int]:
    """Order the ranks, set the nodes' positions and the edges' points; the scope's size."""
    n = len(nodes)
    sw, sh, sr = [nd.w for nd in nodes], [nd.h for nd in nodes], list(rank)
    key = [(pre[v], -1) for v in range(n)]
    chains: list[list[int]] = [[] for _ in edges]
    side = [0] * len(edges)  # 0: through the ranks; 1: right lane (loops); -1: left lane
    long: list[tuple[int, int]] = []
    for ei, e in enumerate(edges):
        span = rank[e.dst] - rank[e.src]
        if span <= 0:
            side[ei] = 1
        elif span == 1:
            chains[ei] = [e.src, e.dst]
        else:
            long.append((span, ei))
    budget = 4 * n + 256  # dummy slots; beyond, long edges (e.g. catches) take the left lane
    for span, ei in sorted(long):
        e = edges[ei]
        if span - 1 > budget:
            side[ei] = -1
            continue
        budget -= span - 1
        chains[ei] = [e.src]
        for r in range(rank[e.src] + 1, rank[e.dst]):
            chains[ei].append(len(sw))
            sw.append(0)
            sh.append(0)
            sr.append(r)
            key.append((pre[e.src], ei))
        chains[ei].append(e.dst)
    up: list[list[int]] = [[] for _ in sw]
    down: list[list[int]] = [[] for _ in sw]
    for chain in chains:
        for a, b in pairwise(chain):
            down[a].append(b)
            up[b].append(a)
    ranks = max(sr) + 1
    layers: list[list[int]] = [[] for _ in range(ranks)]
    for v in sorted(range(len(sw)), key=key.__getitem__):
        layers[sr[v]].append(v)
    pos = [0] * len(sw)
    for layer in layers:
        for i, v in enumerate(layer):
            pos[v] = i
    for sweep in range(SWEEPS):  # barycenter heuristic, alternately down and up
        downward = sweep % 2 == 0
        for r in range(1, ranks) if downward else range(ranks - 2, -1, -1):
            keyed = []
            for v in layers[r]:
                near = up[v] if downward else down[v]
                bary = sum(pos[u] for u in near) / len(near) if near else float(pos[v])
                keyed.append((bary, pos[v], v))
            keyed.sort()
            layers[r] = [v for _, _, v in keyed]
            for i, v in enumerate(layers[r]):
                pos[v] = i
    lanes = {s: sum(1 for x in side if x == s) for s in (-1, 1)}
    margin = {s: LANE_GAP + LANE_STEP * min(c, LANES) if c else 0 for s, c in lanes.items()}
    x, y = [0] * len(sw), [0] * len(sw)
    shift = []
    for layer in layers:  # left to right within the rank, then centred on its states, so
        cur = 0  # a column of states stays straight whatever edges pass beside it
        for i, v in enumerate(layer):
            if i:
                cur += NODE_GAP if layer[i - 1] < n and v < n else DUMMY_GAP
            x[v] = cur
            cur += sw[v]
        real = [v for v in layer if v < n] or layer or [0]
        shift.append(-((x[real[0]] + x[real[-1]] + sw[real[-1]]) // 2))
    lo = min(shift)  # every rank starts at 0 before its shift
    content = max(shift[r] + x[ly[-1]] + sw[ly[-1]] for r, ly in enumerate(layers) if ly) - lo
    band_h = [max((sh[v] for v in layer), default=0) for layer in layers]
    lane_ranks = [r for ei, e in enumerate(edges) if side[ei] for r in (rank[e.src], rank[e.dst])]
    top = LOOP_PAD if 0 in lane_ranks else 0
    bottom = LOOP_PAD if ranks - 1 in lane_ranks else 0
    band_top = [top]
    for r in range(ranks - 1):
        band_top.append(band_top[r] + band_h[r] + RANK_GAP)
    for r, layer in enumerate(layers):
        for v in layer:
            x[v] += shift[r] - lo + margin[-1]
            y[v] = band_top[r] + (band_h[r] - sh[v]) // 2
    for v in range(n):
        nodes[v].x, nodes[v].y = x[v], y[v]
    # ports: a node's edges leave its bottom and enter its top spread out, in the order of
    # the other ends so they do not cross there; lane edges take the outermost ports
    outs: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    ins: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for ei, e in enumerate(edges):
        if side[ei]:
            k_out = k_in = side[ei] * _FAR
        else:
            k_out = x[chains[ei][1]] + sw[chains[ei][1]] // 2
            k_in = x[chains[ei][-2]] + sw[chains[ei][-2]] // 2
        outs[e.src].append((k_out, ei))
        ins[e.dst].append((k_in, ei))
    port_out, port_in = [0] * len(edges), [0] * len(edges)
    for v in range(n):
        for ends, port in ((outs[v], port_out), (ins[v], port_in)):
            ends.sort()
            for i, (_, ei) in enumerate(ends):
                dot = nodes[v].id in (START, END)
                port[ei] = x[v] + (sw[v] // 2 if dot else sw[v] * (i + 1) // (len(ends) + 1))
    lefts = [x[layer[0]] if layer else 0 for layer in layers]
    rights = [x[layer[-1]] + sw[layer[-1]] if layer else 0 for layer in layers]
    min_table, max_table = _range_table(lefts, min), _range_table(rights, max)
    used = {-1: 0, 1: 0}
    for ei, e in enumerate(edges):
        s, t = e.src, e.dst
        pts = [[port_out[ei], y[s] + sh[s]]]
        if side[ei]:  # down below the source, along a lane beside the scope, in from above
            k = used[side[ei]] % LANES
            used[side[ei]] += 1
            a, b = sorted((rank[s], rank[t]))
            if side[ei] > 0:
                lane = _query(max_table, a, b, max) + LANE_GAP + LANE_STEP * k
            else:
                lane = _query(min_table, a, b, min) - LANE_GAP - LANE_STEP * k
            ys = band_top[rank[s]] + band_h[rank[s]] + 8 + 4 * k
            yt = band_top[rank[t]] - 8 - 4 * k
            pts += [[port_out[ei], ys], [lane, ys], [lane, yt], [port_in[ei], yt]]
        else:  # vertically through each rank, straight between ranks
            pts.append([port_out[ei], band_top[rank[s]] + band_h[rank[s]]])
            for d in chains[ei][1:-1]:
                pts += [[x[d], band_top[sr[d]]], [x[d], band_top[sr[d]] + band_h[sr[d]]]]
            pts.append([port_in[ei], band_top[rank[t]]])
        pts.append([port_in[ei], y[t]])
        e.points = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
    height = band_top[-1] + band_h[-1] + bottom
    return margin[-1] + content + margin[1], height
