// The Step Functions console: state machines, executions, and each execution's graph, live.
// Plain JavaScript, no build step and no CDN: it reads /console/api/* and renders with the DOM.
// Testing contract (kept stable): each state's graph element carries data-state-name and
// data-status; clicking it opens a panel with the state's input and output as JSON text; the
// executions list links to each execution's page with its name as the link text.
"use strict";

const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "CAUGHT_ERROR", "ABORTED", "TIMED_OUT"];
const SVG = "http://www.w3.org/2000/svg";
let pageCleanup = [];

// -- small helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, String(value));
  return el;
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${body.error || response.status}: ${body.message || ""}`);
  return body;
}

function postJSON(url, data) {
  return getJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}

function pretty(value) {
  if (value === undefined) return "";
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
  }
  return JSON.stringify(value, null, 2);
}

function jsonBlock(value, field) {
  return h("pre", { class: "json", "data-field": field, tabindex: 0 }, pretty(value));
}

function badge(status) {
  return h("span", { class: "badge", "data-status": status }, status || "NOT_STARTED");
}

function when(text) {
  if (!text) return "";
  const date = new Date(typeof text === "number" ? text * 1000 : text);
  return isNaN(date) ? String(text) : date.toLocaleString();
}

function millis(text) {
  if (text === null || text === undefined) return null;
  if (typeof text === "number") return text * 1000;
  const value = Date.parse(text);
  return isNaN(value) ? null : value;
}

function duration(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function main() { return document.getElementById("main"); }

function setPage(title, ...content) {
  document.title = `${title} - Step Functions console`;
  main().replaceChildren(...content.filter((x) => x !== null && x !== undefined && x !== ""));
}

function fail(error) {
  main().replaceChildren(h("p", { class: "error", role: "alert" }, String(error.message || error)));
}

// -- routing ---------------------------------------------------------------------------------

function route() {
  for (const cleanup of pageCleanup) cleanup();
  pageCleanup = [];
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("[data-nav]")) {
    const current = (parts[0] || "machines") === link.dataset.nav ||
      (parts[0] === "machine" && link.dataset.nav === "machines") ||
      (parts[0] === "execution" && link.dataset.nav === "executions");
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const pages = { "": machinesPage, machines: machinesPage, machine: machinePage,
                  executions: executionsPage, execution: executionPage, queues: queuesPage };
  const page = pages[parts[0] || ""];
  if (!page) return fail(new Error(`No page ${path}`));
  page(parts.slice(1), params).catch(fail);
}

// -- state machines --------------------------------------------------------------------------

async function machinesPage() {
  const { stateMachines } = await getJSON("/console/api/state-machines");
  const rows = stateMachines.map((m) => h("tr", {},
    h("td", {}, h("a", { href: `#/machine/${encodeURIComponent(m.name)}` }, m.name)),
    h("td", {}, m.type),
    h("td", {}, when(m.created)),
    h("td", {}, h("a", { href: `#/executions?machine=${encodeURIComponent(m.name)}` }, "Executions"))));
  setPage("State machines",
    h("h1", {}, "State machines"),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"),
      h("th", {}, "Created"), h("th", {}, ""))), h("tbody", {}, rows))
      : h("p", { class: "muted" }, "No state machines yet."));
}

async function machinePage([name]) {
  const machine = await getJSON(`/console/api/state-machine?name=${encodeURIComponent(name)}`);
  const graph = drawGraph(machine.layout, null);
  const input = h("textarea", { id: "start-input", "aria-label": "Execution input (JSON)" }, "{}");
  const nameInput = h("input", { id: "start-name", placeholder: "generated", "aria-label": "Execution name" });
  const problem = h("p", { class: "error", role: "status", id: "input-problem" });
  const start = h("button", { class: "primary", type: "submit" }, "Start execution");
  const check = () => {
    try { JSON.parse(input.value); problem.textContent = ""; start.disabled = false; }
    catch (e) { problem.textContent = `Not JSON: ${e.message}`; start.disabled = true; }
  };
  input.addEventListener("input", check);
  const form = h("form", { onsubmit: async (event) => {
    event.preventDefault();
    try {
      const started = await postJSON("/console/api/start",
        { stateMachine: name, input: input.value, name: nameInput.value });
      location.hash = `#/execution/${encodeURIComponent(started.executionArn)}`;
    } catch (e) { problem.textContent = e.message; }
  } }, h("div", { class: "row" }, h("label", {}, "Name (optional)", nameInput)),
    h("label", {}, "Input", input), problem, start);
  const recent = h("div", {});
  setPage(name,
    h("h1", {}, name), h("p", { class: "muted" }, machine.arn, " · ", machine.type),
    h("div", { class: "cols" },
      h("section", {}, h("h2", {}, "Graph"), graph.element),
      h("section", {}, h("h2", {}, "Start an execution"), form,
        h("h2", {}, "Recent executions"), recent)),
    h("h2", {}, "Definition"), jsonBlock(machine.definition, "definition"));
  graph.fit();
  const { executions } = await getJSON(
    `/console/api/executions?stateMachine=${encodeURIComponent(name)}&limit=20`);
  recent.replaceChildren(executionTable(executions, false));
}

// -- executions list -------------------------------------------------------------------------

function executionTable(executions, withMachine) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions.");
  return h("table", { id: "executions" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), withMachine ? h("th", {}, "State machine") : null,
      h("th", {}, "Status"), h("th", {}, "Started"), h("th", {}, "Ended"))),
    h("tbody", {}, executions.map((e) => h("tr", { "data-execution": e.name },
      h("td", {}, h("a", { href: `#/execution/${encodeURIComponent(e.executionArn)}` }, e.name)),
      withMachine ? h("td", {}, e.stateMachine) : null,
      h("td", {}, badge(e.status)), h("td", {}, when(e.startDate)), h("td", {}, when(e.stopDate))))));
}

async function executionsPage(_, params) {
  const { stateMachines } = await getJSON("/console/api/state-machines");
  const machine = h("select", { id: "filter-machine", "aria-label": "State machine" },
    h("option", { value: "" }, "All state machines"),
    stateMachines.map((m) => h("option", { value: m.name, selected: m.name === params.get("machine") }, m.name)));
  const status = h("select", { id: "filter-status", "aria-label": "Status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.filter((x) => x !== "CAUGHT_ERROR").map((x) => h("option", { value: x, selected: x === params.get("status") }, x)));
  const name = h("input", { id: "filter-name", value: params.get("name") || "", placeholder: "Name starts with", "aria-label": "Name starts with" });
  const after = h("input", { id: "filter-after", type: "datetime-local", value: params.get("after") || "", "aria-label": "Started after" });
  const before = h("input", { id: "filter-before", type: "datetime-local", value: params.get("before") || "", "aria-label": "Started before" });
  const apply = (cursor) => {
    const query = new URLSearchParams();
    if (machine.value) query.set("machine", machine.value);
    if (status.value) query.set("status", status.value);
    if (name.value) query.set("name", name.value);
    if (after.value) query.set("after", after.value);
    if (before.value) query.set("before", before.value);
    if (params.get("mapRun")) query.set("mapRun", params.get("mapRun"));
    if (cursor) query.set("cursor", cursor);
    location.hash = `#/executions?${query}`;
  };
  const form = h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); apply(null); } },
    h("label", {}, "State machine", machine), h("label", {}, "Status", status),
    h("label", {}, "Name", name), h("label", {}, "Started after", after), h("label", {}, "Started before", before),
    h("button", { type: "submit" }, "Filter"));
  const query = new URLSearchParams({ limit: "50" });
  if (params.get("machine")) query.set("stateMachine", params.get("machine"));
  for (const key of ["status", "name", "cursor", "mapRun"]) if (params.get(key)) query.set(key, params.get(key));
  for (const key of ["after", "before"]) {
    if (params.get(key)) query.set(key, new Date(params.get(key)).toISOString());
  }
  const page = await getJSON(`/console/api/executions?${query}`);
  const more = page.cursor ? h("button", { id: "next-page", onclick: () => apply(page.cursor) }, "Next page") : null;
  const first = params.get("cursor") ? h("button", { onclick: () => apply(null) }, "First page") : null;
  const run = params.get("mapRun");
  const title = run ? `Child executions of Map Run ${run.split(":").slice(-2).join(":")}` : "Executions";
  setPage("Executions", h("h1", { id: run ? "map-run-children-title" : null }, title), form,
    executionTable(page.executions, true), h("div", { class: "row" }, first, more));
}

// -- workers and queues ----------------------------------------------------------------------

async function queuesPage() {
  const body = h("tbody", {});
  const stamp = h("p", { class: "muted", id: "queues-sampled" });
  setPage("Workers and queues", h("h1", {}, "Workers and queues"),
    h("p", { class: "muted" }, "Each function's and integration's queue as the broker last reported it, with the tasks the engine has sent and not had answered. Refreshed every 2 seconds."),
    h("table", { id: "queues" }, h("thead", {}, h("tr", {},
      ["Queue", "Consumers", "Ready", "In flight", "Oldest in flight", "Last heartbeat", "Note"].map((x) => h("th", {}, x)))), body), stamp);
  const load = async () => {
    const { queues } = await getJSON("/console/api/queues");
    body.replaceChildren(...queues.map((q) => {
      const idle = q.function && q.consumers === 0;
      return h("tr", { "data-queue": q.queue, "data-unserved": idle ? "true" : "false" },
        h("td", {}, q.queue), h("td", { class: idle ? "error" : "" }, q.consumers ?? "—"),
        h("td", {}, q.ready ?? "—"), h("td", {}, q.inFlight), h("td", {}, q.inFlight ? duration(q.oldestSeconds * 1000) : ""),
        h("td", {}, q.heartbeatSeconds !== null && q.heartbeatSeconds !== undefined ? `${duration(q.heartbeatSeconds * 1000)} ago` : ""),
        h("td", { class: idle ? "error" : "" }, idle ? `No worker consumes this function${q.unservedSince ? ` (tasks waiting since ${when(q.unservedSince)})` : ""}` : ""));
    }));
    const newest = Math.max(0, ...queues.map((q) => q.sampled || 0));
    stamp.textContent = newest ? `Sampled ${when(newest)}` : "Not sampled yet.";
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 2000);
  pageCleanup.push(() => clearInterval(timer));
}

// -- the graph -------------------------------------------------------------------------------

function drawGraph(layout, onSelect) {
  const svg = s("svg", { role: "group", "aria-label": "Workflow graph" });
  const defs = s("defs");
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "var(--idle-line)" }));
  defs.append(marker);
  const world = s("g", { class: "world" });
  svg.append(defs, world);
  const byId = new Map();
  // Containers first, so the states inside them are drawn on top.
  const nodes = [...layout.nodes].sort((a, b) => (b.container ? 1 : 0) - (a.container ? 1 : 0));
  for (const node of nodes) {
    if (node.type === "Start" || node.type === "End") {
      const g = s("g", { class: "terminal" });
      g.append(s("circle", { cx: node.x + node.w / 2, cy: node.y + node.h / 2, r: node.w / 2 }));
      const t = s("text", { x: node.x + node.w / 2, y: node.y + node.h / 2 + 4, "text-anchor": "middle" });
      t.textContent = node.name;
      g.append(t);
      world.append(g);
      continue;
    }
    const g = s("g", { class: `state${node.container ? " container" : ""}`, "data-state-name": node.name,
      "data-status": "NOT_STARTED", tabindex: 0, role: "button",
      "aria-label": `${node.name} (${node.type}): not started` });
    const rect = s("rect", { x: node.x, y: node.y, width: node.w, height: node.h, rx: 6 });
    const t = s("text", node.container
      ? { x: node.x + 10, y: node.y + 17 }
      : { x: node.x + node.w / 2, y: node.y + node.h / 2 + 4, "text-anchor": "middle" });
    t.textContent = node.container ? `${node.name} (${node.type})` : node.name;
    g.append(rect, t);
    g.addEventListener("click", (event) => { event.stopPropagation(); if (onSelect) onSelect(node.name); });
    g.addEventListener("keydown", (event) => {
      if ((event.key === "Enter" || event.key === " ") && onSelect) { event.preventDefault(); onSelect(node.name); }
    });
    world.append(g);
    byId.set(node.id, g);
  }
  const edges = s("g", { class: "edges" });
  for (const edge of layout.edges) {
    if (!edge.points || edge.points.length < 2) continue;
    const d = edge.points.map((p, i) => `${i ? "L" : "M"} ${p[0]} ${p[1]}`).join(" ");
    edges.append(s("path", { d, class: `edge ${edge.kind}`, "marker-end": "url(#arrow)" }));
    if (edge.label) {
      const mid = edge.points[Math.floor(edge.points.length / 2)];
      const label = s("text", { x: mid[0] + 4, y: mid[1] - 4, class: "edgelabel" });
      label.textContent = edge.label;
      edges.append(label);
    }
  }
  world.insertBefore(edges, world.firstChild);
  // Zoom and pan by changing the view box.
  let view = { x: 0, y: 0, w: Math.max(layout.width, 100), h: Math.max(layout.height, 100) };
  const apply = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (factor, cx, cy) => {
    const nx = cx - (cx - view.x) * factor, ny = cy - (cy - view.y) * factor;
    view = { x: nx, y: ny, w: view.w * factor, h: view.h * factor };
    apply();
  };
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = svg.getBoundingClientRect();
    const cx = view.x + ((event.clientX - box.left) / box.width) * view.w;
    const cy = view.y + ((event.clientY - box.top) / box.height) * view.h;
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
  }, { passive: false });
  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest && event.target.closest("g.state")) return;
    drag = { x: event.clientX, y: event.clientY, view: { ...view } };
    svg.classList.add("dragging");
  });
  window.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    view.x = drag.view.x - ((event.clientX - drag.x) / box.width) * view.w;
    view.y = drag.view.y - ((event.clientY - drag.y) / box.height) * view.h;
    apply();
  });
  window.addEventListener("pointerup", () => { drag = null; svg.classList.remove("dragging"); });
  // Fit: the whole graph when it fits at full size or smaller, else its top at a readable
  // scale (never below 60%), centred; pan and zoom from there.
  const fit = () => {
    const box = svg.getBoundingClientRect();
    const bw = box.width || 800, bh = box.height || 560;
    const width = Math.max(layout.width, 100) + 20, height = Math.max(layout.height, 100) + 20;
    const scale = Math.max(Math.min(1, bw / width, bh / height), Math.min(0.6, bw / width));
    const w = bw / scale, hh = bh / scale;
    view = { x: -10 + (width - w) / 2, y: height * scale <= bh ? -10 + (height - hh) / 2 : -10, w, h: hh };
    apply();
  };
  const controls = h("div", { class: "zoom" },
    h("button", { type: "button", "aria-label": "Zoom in", onclick: () => zoom(1 / 1.25, view.x + view.w / 2, view.y + view.h / 2) }, "+"),
    h("button", { type: "button", "aria-label": "Zoom out", onclick: () => zoom(1.25, view.x + view.w / 2, view.y + view.h / 2) }, "−"),
    h("button", { type: "button", "aria-label": "Fit the graph", onclick: () => fit() }, "Fit"));
  const element = h("div", { class: "graphbox" }, svg, controls);
  fit();
  return {
    element, fit,
    colour(states) {
      for (const g of byId.values()) {
        const name = g.dataset.stateName;
        const status = (states[name] && states[name].status) || "NOT_STARTED";
        if (g.dataset.status !== status) g.dataset.status = status;
        g.setAttribute("aria-label", `${name}: ${status.toLowerCase().replace("_", " ")}`);
      }
    },
    select(name) {
      for (const g of byId.values()) g.classList.toggle("selected", g.dataset.stateName === name);
    },
  };
}

function legend() {
  const colours = { NOT_STARTED: "var(--idle)", RUNNING: "var(--running)", SUCCEEDED: "var(--succeeded)",
    FAILED: "var(--failed)", CAUGHT_ERROR: "var(--caught)", ABORTED: "var(--aborted)", TIMED_OUT: "var(--timedout)" };
  return h("div", { class: "legend", "aria-hidden": "true" },
    Object.entries(colours).map(([name, colour]) => h("span", { style: `--c: ${colour}` }, name.replace("_", " ").toLowerCase())));
}

// -- one execution ---------------------------------------------------------------------------

async function executionPage([arn]) {
  let data = await getJSON(`/console/api/execution?arn=${encodeURIComponent(arn)}`);
  let selected = null;
  let selectedStep = null;
  const panel = h("aside", { class: "panel", id: "step-panel", "aria-label": "Selected state" },
    h("p", { class: "muted" }, "Select a state to see its input and output."));
  const graph = drawGraph(data.layout, (name) => { selected = name; selectedStep = null; showStep(); });
  const header = h("div", {});
  const io = h("div", { class: "cols" });
  const tableView = h("div", { class: "view", id: "table-view", hidden: true });
  const eventsView = h("div", { class: "view", id: "events-view", hidden: true });
  const graphView = h("div", { class: "view", id: "graph-view" }, legend(),
    h("div", { class: "graphwrap" }, graph.element, panel));
  const views = { Graph: graphView, Table: tableView, Events: eventsView };
  const tabs = h("div", { class: "tabs", role: "tablist" }, Object.keys(views).map((name) =>
    h("button", { type: "button", role: "tab", "aria-selected": name === "Graph" ? "true" : "false",
      "data-tab": name, onclick: (event) => {
        for (const b of tabs.querySelectorAll("button")) b.setAttribute("aria-selected", String(b === event.target));
        for (const [key, view] of Object.entries(views)) view.hidden = key !== name;
        if (name === "Events" && !eventsView.dataset.loaded) loadEvents();
        if (name === "Graph") graph.fit();
      } }, name)));

  function stepsOf(name) { return data.progress.steps.filter((step) => step.name === name); }

  function showStep() {
    graph.select(selected);
    if (!selected) return;
    const steps = stepsOf(selected);
    const state = data.progress.states[selected];
    const status = (state && state.status) || "NOT_STARTED";
    const step = selectedStep !== null ? steps[selectedStep] : steps[steps.length - 1];
    const chooser = steps.length > 1 ? h("label", {}, `Entered ${steps.length} times; showing`,
      h("select", { id: "step-choice", onchange: (e) => { selectedStep = Number(e.target.value); showStep(); } },
        steps.map((st, i) => h("option", { value: i, selected: st === step },
          `#${i + 1}${st.iteration !== null && st.iteration !== undefined ? ` (item ${st.iteration})` : ""} · ${st.status}`)))) : null;
    const parts = [h("h3", {}, selected), h("p", {}, badge(status), " ", step ? step.type : "")];
    if (chooser) parts.push(chooser);
    if (!step) {
      parts.push(h("p", { class: "muted" }, "Not reached in this execution."));
    } else {
      parts.push(h("p", { class: "muted" }, `Started ${when(step.start)}`,
        step.durationMs !== null ? ` · took ${duration(step.durationMs)}` : ""));
      parts.push(h("h4", {}, "Input"), jsonBlock(step.input, "input"));
      parts.push(h("h4", {}, "Output"), step.exitedEventId === null || step.exitedEventId === undefined
        ? h("p", { class: "muted", "data-field": "output" },
            step.status === "RUNNING" ? "Running" : `No output: the state ended ${step.status.replace("_", " ").toLowerCase()}.`)
        : jsonBlock(step.output, "output"));
      if (step.stages && step.stages.length) {
        parts.push(h("h4", {}, "Data flow"), h("ol", { class: "stages", id: "stages" }, step.stages.map((st) =>
          h("li", { "data-stage": st.stage }, h("details", {}, h("summary", {}, `${st.stage} `, h("span", { class: "muted" }, st.field)),
            st.known === false ? h("p", { class: "muted" }, "Not recorded: it reads the context object or a variable, or the state has not got there.")
              : jsonBlock(st.value, "stage"))))));
      }
      if (step.assignedVariables) parts.push(h("h4", {}, "Assigned variables"), jsonBlock(step.assignedVariables, "variables"));
      if (step.task) {
        parts.push(h("h4", {}, `Call: ${step.task.resourceType || ""} ${step.task.resource || ""}`),
          h("div", { class: "muted" }, "Request"), jsonBlock(step.task.parameters, "request"));
        if (step.task.result !== null && step.task.result !== undefined) parts.push(h("div", { class: "muted" }, "Result"), jsonBlock(step.task.result, "result"));
        if (step.task.error) parts.push(h("p", { class: "error" }, `${step.task.error}: ${step.task.cause || ""}`));
      }
      if (step.attempts && step.attempts.length) {
        parts.push(h("h4", {}, "Attempts that failed"), h("ol", {}, step.attempts.map((a) => h("li", {},
          `${a.error || ""} ${a.cause ? `: ${String(a.cause).slice(0, 200)}` : ""}`,
          a.retryAfterMs !== null && a.retryAfterMs !== undefined ? ` — retried after ${duration(a.retryAfterMs)}` : ""))));
      }
    }
    panel.replaceChildren(...parts);
  }

  function renderHeader() {
    const e = data.execution;
    const p = data.progress.execution;
    const started = millis(e.startDate), stopped = millis(e.stopDate);
    const running = e.status === "RUNNING";
    const buttons = h("div", { class: "row" },
      running ? h("button", { class: "danger", id: "stop", onclick: async () => {
        await postJSON("/console/api/stop", { executionArn: e.executionArn }); refresh(); } }, "Stop execution") : null,
      e.redriveStatus === "REDRIVABLE" ? h("button", { id: "redrive", title: "Run it again from the state it ended in", onclick: async () => {
        await postJSON("/console/api/redrive", { executionArn: e.executionArn }); await refresh(); follow(); } }, "Redrive") : null,
      h("button", { id: "rerun", onclick: async () => {
        const machine = e.stateMachineArn.split(":").pop();
        const again = await postJSON("/console/api/start", { stateMachine: machine, input: e.input || "{}" });
        location.hash = `#/execution/${encodeURIComponent(again.executionArn)}`;
      } }, "New execution with the same input"),
      h("a", { href: `#/executions?machine=${encodeURIComponent(e.stateMachineArn.split(":").pop())}` }, "All executions of this machine"));
    const banner = ["FAILED", "TIMED_OUT", "ABORTED"].includes(e.status) ? h("div", { class: "banner", role: "alert", id: "error-banner" },
      h("strong", {}, `${e.status.replace("_", " ")}${e.error ? `: ${e.error}` : ""}`),
      e.cause ? h("pre", { class: "json", "data-field": "cause" }, pretty(e.cause)) : null,
      p.failedState ? h("button", { id: "goto-failure", onclick: () => { selected = p.failedState; selectedStep = null; showStep(); } },
        `Show the failing step: ${p.failedState}`) : null) : null;
    header.replaceChildren(
      h("h1", {}, e.name, " ", badge(e.status)),
      h("dl", { class: "summary" },
        h("div", { class: "wide" }, h("dt", {}, "Execution ARN"), h("dd", {}, e.executionArn)),
        h("div", {}, h("dt", {}, "State machine"), h("dd", {}, h("a", { href: `#/machine/${encodeURIComponent(e.stateMachineArn.split(":").pop())}` }, e.stateMachineArn.split(":").pop()))),
        h("div", {}, h("dt", {}, "Started"), h("dd", {}, when(e.startDate))),
        h("div", {}, h("dt", {}, "Ended"), h("dd", {}, when(e.stopDate) || "—")),
        h("div", {}, h("dt", {}, "Duration"), h("dd", {}, duration((stopped || Date.now()) - started))),
        h("div", {}, h("dt", {}, "State transitions"), h("dd", { id: "transitions" }, String(p.transitions))),
        data.parent ? h("div", { class: "wide" }, h("dt", {}, "Started by the Map Run of"), h("dd", {},
          h("a", { id: "map-run-parent", href: `#/execution/${encodeURIComponent(data.parent.executionArn)}` }, data.parent.executionArn.split(":").pop()),
          " · ", h("a", { href: `#/executions?mapRun=${encodeURIComponent(data.parent.mapRunArn)}` }, "its other children"))) : null),
      ...[banner, buttons, mapRunsSection()].filter(Boolean));
    io.replaceChildren(
      h("section", {}, h("h2", {}, "Execution input"), jsonBlock(e.input, "execution-input")),
      h("section", {}, h("h2", {}, "Execution output"), e.output === undefined
        ? h("p", { class: "muted", "data-field": "execution-output" }, running ? "Not finished yet." : "No output: the execution did not succeed.")
        : jsonBlock(e.output, "execution-output")));
  }

  // A Distributed Map's runs: each with its children's counts and a link to list them.
  function mapRunsSection() {
    const runs = data.mapRuns || [];
    if (!runs.length) return null;
    return h("section", { id: "map-runs" }, h("h2", {}, "Map Runs"), h("ul", {}, runs.map((run) => {
      const c = run.itemCounts || {};
      const label = run.mapRunArn.split(":").slice(-2).join(":");
      return h("li", { "data-map-run": run.mapRunArn, "data-status": run.status },
        `${label} `, badge(run.status),
        h("span", { class: "counts" }, ` ${c.succeeded ?? 0} succeeded · ${c.failed ?? 0} failed · ${c.running ?? 0} running · ${c.pending ?? 0} pending, of ${c.total ?? 0}`),
        " ", h("a", { class: "map-run-children", href: `#/executions?mapRun=${encodeURIComponent(run.mapRunArn)}` }, "Child executions"));
    })));
  }

  function renderTable() {
    const steps = data.progress.steps;
    // The timeline spans the execution and every step (their clocks may differ by a
    // millisecond: the execution's dates and the events' times are rounded apart).
    const starts = steps.map((st) => millis(st.start)).filter((x) => x !== null);
    const ends = steps.map((st) => millis(st.end)).filter((x) => x !== null);
    const begin = Math.min(millis(data.execution.startDate) ?? Infinity, ...starts);
    const end = Math.max(millis(data.execution.stopDate) ?? Date.now(), ...ends);
    const span = Math.max(end - begin, 1);
    const rows = steps.slice(0, 2000).map((st) => {
      const a = millis(st.start) ?? begin, b = millis(st.end) ?? end;
      // One bar per attempt: a failed attempt ends at its failure, the retry starts after
      // its backoff, so the gaps between bars are the waits.
      const pieces = [];
      let from = a;
      for (const at of st.attempts || []) {
        const failedAt = millis(at.at);
        if (failedAt === null) continue;
        pieces.push([from, failedAt, "FAILED"]);
        from = at.retryAfterMs !== null && at.retryAfterMs !== undefined ? failedAt + at.retryAfterMs : b;
      }
      if (from < b || !pieces.length) pieces.push([Math.min(from, b), b, st.status]);
      const bars = pieces.map(([x, y, status]) => h("div", { class: "bar", "data-status": status,
        style: `left: ${((x - begin) / span) * 100}%; width: ${Math.max(((y - x) / span) * 100, 0.4)}%` }));
      const retries = (st.attempts || []).map((at) => h("div", { class: "retry", title: `${at.error}`,
        style: `left: ${(((millis(at.at) ?? a) - begin) / span) * 100}%` }));
      return h("tr", { "data-step": st.name, onclick: () => { selected = st.name; selectedStep = stepsOf(st.name).indexOf(st); tabs.querySelector('[data-tab="Graph"]').click(); showStep(); } },
        h("td", {}, st.name), h("td", {}, st.type), h("td", {}, badge(st.status)),
        h("td", {}, st.iteration ?? ""), h("td", {}, duration(st.durationMs)),
        h("td", {}, h("div", { class: "timeline" }, bars, retries)));
    });
    tableView.replaceChildren(
      steps.length > 2000 ? h("p", { class: "muted" }, `The first 2,000 of ${steps.length} steps.`) : "",
      h("table", {}, h("thead", {}, h("tr", {}, ["State", "Type", "Status", "Item", "Duration", "Timeline"].map((x) => h("th", {}, x)))),
        h("tbody", {}, rows)));
  }

  async function loadEvents(from) {
    eventsView.dataset.loaded = "1";
    const page = await getJSON(`/console/api/history?arn=${encodeURIComponent(arn)}&from=${from || 1}&limit=200`);
    const list = eventsView.querySelector(".events") || h("div", { class: "events" });
    if (!from) {
      eventsView.replaceChildren(h("div", { class: "row" }, h("span", { class: "muted" }, `${page.total} events`),
        h("button", { id: "export", onclick: exportEvents }, "Export as JSON")), list);
    }
    for (const event of page.events) {
      list.append(h("details", { class: "event" }, h("summary", {}, `${event.id} · ${event.type} · ${when(event.timestamp)}`),
        jsonBlock(event, "event")));
    }
    const old = eventsView.querySelector("#more-events");
    if (old) old.remove();
    if (page.next) eventsView.append(h("button", { id: "more-events", onclick: () => loadEvents(page.next) }, "Load more"));
  }

  async function exportEvents() {
    const all = [];
    let from = 1;
    while (from) {
      const page = await getJSON(`/console/api/history?arn=${encodeURIComponent(arn)}&from=${from}&limit=1000`);
      all.push(...page.events);
      from = page.next;
    }
    const link = h("a", { href: URL.createObjectURL(new Blob([JSON.stringify({ events: all }, null, 2)], { type: "application/json" })),
      download: `${data.execution.name}-history.json` });
    link.click();
  }

  function render() {
    renderHeader();
    graph.colour(data.progress.states);
    renderTable();
    showStep();
  }

  async function refresh() {
    data = await getJSON(`/console/api/execution?arn=${encodeURIComponent(arn)}`);
    render();
    if (eventsView.dataset.loaded && !eventsView.hidden) loadEvents();
  }

  setPage(data.execution.name, header, tabs, graphView, tableView, eventsView, io);
  graph.fit();
  render();
  // Follow a running execution live (again after a redrive) until it ends.
  let source = null;
  function follow() {
    if (source || data.execution.status !== "RUNNING") return;
    source = new EventSource(`/console/api/stream?arn=${encodeURIComponent(arn)}`);
    let last = data.lastEventId;
    source.onmessage = async (message) => {
      const { lastEventId } = JSON.parse(message.data);
      if (lastEventId === last) return;
      last = lastEventId;
      await refresh();
      if (data.execution.status !== "RUNNING") { source.close(); source = null; }
    };
  }
  follow();
  pageCleanup.push(() => { if (source) source.close(); });
}

// -- start -----------------------------------------------------------------------------------

function theme(next) {
  const chosen = next || localStorage.getItem("sfn-theme") ||
    (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  document.documentElement.dataset.theme = chosen;
  localStorage.setItem("sfn-theme", chosen);
  document.getElementById("theme").textContent = chosen === "dark" ? "Light" : "Dark";
}

document.getElementById("theme").addEventListener("click", () =>
  theme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
theme();
window.addEventListener("hashchange", route);
route();
