"""JSONata for the pure ASL core: AWS Step Functions' ``"QueryLanguage": "JSONata"``.

A field is a string ``"{% <expression> %}"`` (:func:`is_expression`), or a JSON value holding
such strings at any depth (``Arguments``, ``Output``, ``Assign``: :func:`compile_template`).
Expressions are compiled once when the definition is loaded (:func:`compile_expression`,
which raises :class:`JsonataSyntaxError` with a position) and evaluated with the bindings
``{"states": {"input", "result", "errorOutput", "context"}, "<variable>": value, ...}``, the
caller's ``random.Random`` and, optionally, the evaluation time; the result is plain JSON data,
a failure :class:`JsonataError` (``States.QueryEvaluationError``, AWS's cause text). AWS's
extra functions (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``, ``$parse``)
live in :mod:`.functions`, ``$eval`` is removed. Pure and synchronous: no I/O, no clock, no
global random generator.

The engine is jlens 0.25 (Rust, MIT). The Python JSONata libraries on PyPI were compared
(2026-12) on 109 standard expressions with jsonata-js 2.x's results (paths, singleton
sequences, predicates, $map/$filter/$reduce/$sort, grouping, parent and positional operators,
$string of numbers, regexes, dates, error codes), on the 17 recorded AWS runs of a first Pass
state's JSONata ``Output`` that need none of AWS's functions (corpus tag ``jsonata``), and on
10,000 evaluations of a typical expression (object construction, filter, ``$sum``, ``&``)
through each library's own API::

    library                standard  corpus  10k evals  notes
    jlens 0.25.0           107/109   17/17   0.07 s     jsonata-js error texts; step budget,
                                                        depth and size limits; reads()
    jsonatapy 2.2.13       108/109   17/17   0.06 s     its own error texts (T0411 ...);
                                                        wall-clock timeout, no step budget
    jsonata-rs 0.1.4       104/109   17/17   0.14 s     $string(1e20) is "1e+20"; substring
                                                        counts UTF-16 units; $substring(1)
    jsonata-python 0.7.1   104/109   17/17   2.03 s     pure Python; $string(1e20) too, and
                                                        Python exceptions for $number('x'), 1/0
    zopyx-pyjsonata 0.3.7   89/109   15/17   n/a        panics on the parent operator (%)
    jsonata 0.2.5           51/109   13/17   n/a        jsonata-js 1.8 in duktape; mangles
                                                        quotes and spaces, no bindings

jlens was taken over jsonatapy for what AWS's causes and a reproducible core need: jsonata-js's
error texts (AWS quotes them: ``T1006: Attempted to invoke a non-function``) and a
deterministic step budget. It misses ``$string(123456789012345678)`` (jsonata-js rounds to 15
digits, ``"123456789012346000"``) and ``$string(1/0)`` (``D1001`` where jsonata-js has
``D3001``). With AWS's functions added here, all 49 recorded first-Pass outputs and the 10
recorded Map ``Items`` runs match, and one evaluation through this package takes about 10 us.
"""

from orchestrator.asl.jsonata.engine import (
    DEFAULT_LIMITS,
    MAX_EXPRESSION_CHARS,
    Expression,
    Limits,
    compile_expression,
    is_expression,
)
from orchestrator.asl.jsonata.errors import (
    QUERY_EVALUATION_ERROR,
    JsonataError,
    JsonataSyntaxError,
    unexpected_type,
)
from orchestrator.asl.jsonata.templates import Template, compile_template

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_EXPRESSION_CHARS",
    "QUERY_EVALUATION_ERROR",
    "Expression",
    "JsonataError",
    "JsonataSyntaxError",
    "Limits",
    "Template",
    "compile_expression",
    "compile_template",
    "is_expression",
    "unexpected_type",
]
