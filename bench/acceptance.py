"""How many real, public state machine definitions the loader accepts, and why it refuses the rest.

The set is not in this repository: it is a folder of ``<n>.asl.json`` files collected from
public GitHub repositories (AWS samples, SAM, Serverless Framework, CDK and Terraform
projects), with a manifest ``sources.jsonl`` beside them, one JSON object a line:
``{"file", "repo", "path", "commit", "transformed"}``. ``transformed`` lists what was changed
to make a whole definition out of the source: YAML converted to JSON, a definition taken out
of a template, and each ``${...}`` substitution or CloudFormation intrinsic replaced by a
plausible concrete value (a Lambda ARN for a Task's ``Resource``, a queue URL for
``QueueUrl``, ...). Files missing from the manifest are measured all the same. The manifest
of the set measured for issue 15 (404 definitions from 218 repositories, each at its
commit) is ``bench/public-definitions.jsonl``: the definitions themselves stay in their
repositories.

Each file is loaded with :func:`orchestrator.asl.loader.load_definition`. A refused file is
grouped by its first problem's code and by a short reason key: for a Task's ``Resource`` the
integration (``task:sqs``, ``task:aws-sdk``, ``task:activity``, with ``.sync`` or
``.waitForTaskToken`` when present), otherwise the feature (``JSONata``, ``Assign``,
``Distributed Map``, ...) or the code and the field it is about. Usage:

    python -m bench.acceptance /work/public-defs [--json] [--top 20]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.asl.errors import DefinitionError, Problem
from orchestrator.asl.loader import ALLOWED_FIELDS, load_definition

MANIFEST = "sources.jsonl"
SUFFIX = ".asl.json"
_INTEGRATION = re.compile(
    r"^arn:aws[\w-]*:states:[a-z0-9-]*:\d*:(?P<service>(?:aws-sdk:)?[a-z][a-z0-9-]*):"
    r"(?P<action>[A-Za-z][\w-]*)(?P<pattern>\.sync(?::2)?|\.waitForTaskToken)?$"
)
_ACTIVITY = re.compile(r"^arn:aws[\w-]*:states:[a-z0-9-]*:\d*:activity:")
_LAMBDA = re.compile(r"^arn:aws[\w-]*:lambda:")
# Fields whose problems are named after a feature rather than after the field.
_FEATURES = {
    "QueryLanguage": "JSONata",
    "Arguments": "JSONata",
    "Output": "JSONata",
    "Assign": "Assign",
    "ItemReader": "Distributed Map",
    "ItemBatcher": "Distributed Map",
    "ResultWriter": "Distributed Map",
    "Label": "Distributed Map",
    "ProcessorConfig": "Distributed Map",
    "Mode": "Distributed Map",
}
_FIELD_NAMES = frozenset().union(*ALLOWED_FIELDS.values(), _FEATURES)


@dataclass(frozen=True)
class Outcome:
    """What the loader made of one file; ``reason`` is the first problem's reason key."""

    file: str
    repo: str = ""
    path: str = ""
    accepted: bool = False
    code: str = ""
    message: str = ""
    pointer: str = ""
    reason: str = ""
    reasons: tuple[str, ...] = field(default_factory=tuple)
    problems: int = 0


def load_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The manifest's entries by file name; empty when ``sources.jsonl`` is absent."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return {}
    entries: dict[str, dict[str, Any]] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            entries[entry["file"]] = entry
    return entries


def resource_reason(resource: Any) -> str:
    """The reason key for a Task ``Resource``: which kind of integration it names."""
    if not isinstance(resource, str):
        return "task:resource-not-a-string"
    match = _INTEGRATION.match(resource)
    if match:
        service = match["service"]
        key = "aws-sdk" if service.startswith("aws-sdk:") else service
        return f"task:{key}{match['pattern'] or ''}"
    if _ACTIVITY.match(resource):
        return "task:activity"
    if _LAMBDA.match(resource):
        return "task:lambda-arn"
    return "task:other-resource"


def _resolve(document: Any, pointer: str) -> Any:
    """The value at JSON Pointer ``pointer`` in ``document``; None when it is not there."""
    node = document
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def reason_of(problem: Problem, document: Any) -> str:
    """A short key saying what a problem is about, to group refusals by."""
    parts = [p.replace("~1", "/").replace("~0", "~") for p in problem.pointer.split("/")[1:]]
    if parts and parts[-1] == "Resource" and problem.code in ("INVALID_RESOURCE", "UNSUPPORTED"):
        return resource_reason(_resolve(document, problem.pointer))
    for part in reversed(parts):
        if part in _FEATURES:
            return _FEATURES[part]
    if problem.code == "UNKNOWN_FIELD" and parts:
        return f"UNKNOWN_FIELD {parts[-1]}"
    # The innermost field name on the pointer; state names and indexes say nothing general.
    named = next((p for p in reversed(parts) if p in _FIELD_NAMES and p != "States"), "")
    return f"{problem.code} {named}".strip()


def check_file(file: Path, source: dict[str, Any] | None = None) -> Outcome:
    """Load one definition file and say whether it is accepted, and if not, why."""
    entry = source or {}
    base = Outcome(file=file.name, repo=entry.get("repo", ""), path=entry.get("path", ""))
    text = file.read_text(encoding="utf-8-sig")
    try:
        load_definition(text, name=file.name.removesuffix(SUFFIX), source=file.name)
    except DefinitionError as exc:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        reasons = [reason_of(p, document) for p in exc.problems]
        return _refused(base, exc.problems[0], reasons, len(exc.problems))
    except Exception as exc:  # a crash is a finding, not a reason to stop measuring
        return _refused(base, Problem("CRASH", f"{type(exc).__name__}: {exc}"), ["CRASH"], 1)
    return replace(base, accepted=True)


def _refused(base: Outcome, first: Problem, reasons: list[str], count: int) -> Outcome:
    return replace(
        base,
        code=first.code,
        message=first.message,
        pointer=first.pointer,
        reason=reasons[0],
        reasons=tuple(dict.fromkeys(reasons)),
        problems=count,
    )


def measure(folder: Path) -> list[Outcome]:
    """Check every ``*.asl.json`` file of ``folder``, in name order."""
    manifest = load_manifest(folder)
    return [check_file(f, manifest.get(f.name)) for f in sorted(folder.glob(f"*{SUFFIX}"))]


def summarize(outcomes: Sequence[Outcome], top: int = 20) -> dict[str, Any]:
    """Totals, share accepted, and refusals grouped by first code and by reason."""
    refused = [o for o in outcomes if not o.accepted]
    repos = {o.repo for o in outcomes if o.repo}
    repos_all_accepted = repos - {o.repo for o in refused}
    any_reason: Counter[str] = Counter()
    for outcome in refused:
        any_reason.update(outcome.reasons)
    total = len(outcomes)
    return {
        "total": total,
        "accepted": total - len(refused),
        "refused": len(refused),
        "share_accepted": round((total - len(refused)) / total, 4) if total else 0.0,
        "repositories": len(repos),
        "repositories_all_accepted": len(repos_all_accepted),
        "refused_by_first_code": dict(Counter(o.code for o in refused).most_common()),
        "refused_by_first_reason": dict(Counter(o.reason for o in refused).most_common(top)),
        "refused_having_reason": dict(any_reason.most_common(top)),
    }


def _table(title: str, counts: dict[str, int], total: int) -> Iterable[str]:
    yield title
    for key, count in counts.items():
        yield f"  {count:>5}  {100 * count / total:5.1f}%  {key}"


def report(summary: dict[str, Any], folder: Path, when: str) -> str:
    """The human-readable report."""
    total, refused = summary["total"], summary["refused"] or 1
    lines = [
        f"definitions in {folder} at {when}",
        f"total {total}, accepted {summary['accepted']}"
        f" ({100 * summary['share_accepted']:.1f}%), refused {summary['refused']}",
        f"repositories {summary['repositories']},"
        f" with every definition accepted {summary['repositories_all_accepted']}",
        *_table(
            "refused, by first problem's code (% of refused):",
            summary["refused_by_first_code"],
            refused,
        ),
        *_table(
            "top reasons, first problem (% of refused):",
            summary["refused_by_first_reason"],
            refused,
        ),
        *_table(
            "top reasons, any problem (% of refused):", summary["refused_having_reason"], refused
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the folder given and print the report (or JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of <n>.asl.json files and sources.jsonl")
    parser.add_argument("--json", action="store_true", help="print JSON, with every file's outcome")
    parser.add_argument("--top", type=int, default=20, help="how many reasons to list")
    args = parser.parse_args(argv)
    if not args.folder.is_dir() or not any(args.folder.glob(f"*{SUFFIX}")):
        print(f"no *{SUFFIX} files in {args.folder}", file=sys.stderr)
        return 2
    when = datetime.now(UTC).isoformat(timespec="seconds")
    outcomes = measure(args.folder)
    summary = summarize(outcomes, args.top)
    if args.json:
        files = [asdict(o) for o in outcomes]
        print(json.dumps({"measured_at": when, **summary, "files": files}, indent=2))
    else:
        print(report(summary, args.folder, when))
    return 0


if __name__ == "__main__":
    sys.exit(main())
