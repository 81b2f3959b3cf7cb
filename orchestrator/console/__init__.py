"""The web console: state machines, executions and each execution's graph, live.

Served by the orchestrator on the API's host and port (``GET /``); it reads the store and
the engine, never the broker, and every asset ships in the package (no CDN, works offline).
:mod:`.layout` lays a definition out as a graph, :mod:`.progress` reads a history into each
state's status and steps, :mod:`.live` tells open pages that an execution changed, and
:mod:`.routes` serves the pages, their JSON and the server-sent events.
"""
