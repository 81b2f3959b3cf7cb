"""Workers: a small Lambda-like runtime and the five call-center functions of the AWS tutorial.

Importing this package registers the call-center functions, so ``get_function(name)`` finds
``OpenCaseFunction`` and the others. ``python -m workers open`` (or ``assign``, ``work``,
``close``, ``escalate``) runs one of them as a worker process on RabbitMQ.
"""

from workers.runtime import (
    Context,
    Function,
    current_context,
    function,
    get_function,
    invoke,
    invoke_payload,
    registered_functions,
)

# Imported after the runtime, for its side effect: registering the five functions.
from workers.callcenter import CLI_NAMES  # isort: skip
from workers.consumer import Worker, serve  # isort: skip

__all__ = [
    "CLI_NAMES",
    "Context",
    "Function",
    "Worker",
    "current_context",
    "function",
    "get_function",
    "invoke",
    "invoke_payload",
    "registered_functions",
    "serve",
]
