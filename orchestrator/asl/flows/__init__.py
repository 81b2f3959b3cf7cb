"""The query-language seam of the interpreter: how a state's input becomes its arguments and
its result becomes its output.

The interpreter decides control (which state runs, tasks, timers, retries, catches, fan-out);
a :class:`~orchestrator.asl.flows.host.DataFlow` decides data, one per query language:
:mod:`.jsonpath` (InputPath -> Parameters -> ResultSelector -> ResultPath -> OutputPath) and
:mod:`.jsonata` (Arguments -> ``$states.result`` -> Output, ``{% %}`` expressions).
:func:`flow_of` is the one place a state's language picks its flow.
"""

from __future__ import annotations

from orchestrator.asl.definition import AnyState
from orchestrator.asl.flows.host import DataFlow, Host, TaskCall
from orchestrator.asl.flows.jsonata import JSONATA
from orchestrator.asl.flows.jsonpath import JSONPATH, apply_result_path


def flow_of(state: AnyState) -> DataFlow:
    """The data flow of ``state``'s query language."""
    return JSONATA if state.query_language == "JSONata" else JSONPATH


__all__ = ["DataFlow", "Host", "TaskCall", "apply_result_path", "flow_of"]
