"""``python -m bench.compare`` end to end: five systems, 30 cases each, on a real RabbitMQ."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO

pytestmark = pytest.mark.integration

CASES = 30
SYSTEMS = ("ours", "ceiling", "ceiling-relay", "celery", "celery-default")


def test_compare_runs_every_system(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    missing = [m for m in ("celery", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"{', '.join(missing)} not installed: pip install '.[test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    results, chart = tmp_path / "r.json", tmp_path / "r.png"
    command = [sys.executable, "-m", "bench.compare", "--cases", str(CASES)]
    command += ["--concurrency", "10", "--systems", ",".join(SYSTEMS)]
    command += ["--rounds", "2", "--half-peak", "--timeline"]
    command += ["--json", str(results), "--chart", str(chart)]
    done = subprocess.run(
        command, cwd=REPO, env=subprocess_env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr

    report = json.loads(results.read_text())
    assert report["parameters"]["cases"] == CASES
    assert report["machine"]["cores"] >= 1
    assert set(report["systems"]) == set(SYSTEMS)
    for name, figures in report["systems"].items():
        assert figures["status"] == "ok", (name, figures)
        assert figures["results"] == CASES, name
        assert figures["missing"] == 0, name
        assert figures["duplicates"] == 0, name
        assert figures["closed"] + figures["escalated"] == CASES, name
        assert figures["executions_per_second"] > 0, name
        latency = figures["latency_ms"]
        assert latency["p99"] >= latency["p95"] >= latency["p50"] > 0, name
        assert figures["processes"], name
        assert all(p["peak_rss_mib"] > 0 for p in figures["processes"]), name
        # --timeline: every result falls in one second's row, with the client's CPU sampled.
        timeline = figures["timeline"]
        assert sum(row["cases"] for row in timeline) == CASES, name
        assert any("client" in row["cpu_ms"] for row in timeline), name
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "exec/s" in done.stdout

    # Two interleaved rounds; "systems" holds each system's median round, the summary the
    # ratios per round and of the medians; then ours twice at half its median peak.
    assert [set(one) for one in report["rounds"]] == [set(SYSTEMS)] * 2
    summary = report["summary"]
    rates = summary["executions_per_second"]
    for name in SYSTEMS:
        assert report["systems"][name]["executions_per_second"] in rates[name]
        assert min(rates[name]) <= summary["median_executions_per_second"][name]
        assert summary["median_executions_per_second"][name] <= max(rates[name])
    for other in ("ceiling", "ceiling-relay", "celery", "celery-default"):
        ratio = summary[f"ours_over_{other}"]
        assert ratio["per_round"] == [
            pytest.approx(o / t, abs=1e-3) for o, t in zip(rates["ours"], rates[other], strict=True)
        ]
    half_peak = report["half_peak"]
    peak = summary["median_executions_per_second"]["ours"]
    assert half_peak["rate"] == pytest.approx(peak / 2, abs=0.06)
    assert len(half_peak["runs"]) == len(half_peak["p99_ms"]) == 2
    for run in half_peak["runs"]:
        assert run["status"] == "ok" and run["results"] == CASES
        assert run["publish_rate"] == pytest.approx(half_peak["rate"], rel=0.5)
    assert "at half its median peak" in done.stdout
    # The machine's speed, probed before every run, so drifting runs can be told apart.
    probes = summary["cpu_probe_ms"]
    assert set(probes) == set(SYSTEMS)
    assert all(len(v) == 2 and all(p > 0 for p in v) for v in probes.values())
    assert all(run["cpu_probe_ms"] > 0 for run in half_peak["runs"])
    assert "machine speed probe" in done.stdout
    # Celery runs in both configurations in one process: each its own queue type and settings.
    assert report["systems"]["celery"]["settings"]["publisher_confirms"] is True
    default = report["systems"]["celery-default"]["settings"]
    assert (default["queue_type"], default["publisher_confirms"], default["acks_late"]) == (
        "classic",
        False,
        False,
    )
    assert default["prefetch"] == 64
    # Each run says whether the broker's quorum WAL rolled over meanwhile (None: not readable).
    assert set(summary["broker_wal_rolled_over"]) == set(SYSTEMS)
    assert all(run["broker_wal_rolled_over"] in (True, False, None) for run in half_peak["runs"])
    assert "broker WAL roll" in done.stdout


def test_growth_reports_every_window_and_the_store_it_filled(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    results = tmp_path / "growth.json"
    command = [sys.executable, "-m", "bench.growth", "--executions", "60", "--window", "20"]
    command += ["--concurrency", "10", "--json", str(results)]
    done = subprocess.run(
        command, cwd=REPO, env=subprocess_env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr

    report = json.loads(results.read_text())
    assert report["summary"] == {"results": 70, "missing": 0, "duplicates": 0, "wrong": 0}
    windows = report["windows"]
    assert len(windows) == 3
    assert int(windows[-1]["executions"].split("-")[1]) >= 60
    for window in windows:
        assert window["executions_per_second"] > 0
        assert window["orchestrator_cpu_ms_per_execution"] > 0
        assert window["p99_ms"] >= window["p50_ms"] > 0
    # 50 warm-up cases and 70 measured ones, each with its whole history stored.
    assert report["store_at_end"]["executions"] == 120
    assert report["store_at_end"]["history_events"] >= 120 * 20
    assert report["last_over_first"]["executions_per_second"] > 0
    assert report["second_half_over_first_half"]["orchestrator_cpu_ms_per_execution"] > 0


def test_the_console_benchmark_pages_and_draws(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    if not Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists():
        message = "bench.console needs Chromium at /usr/bin/chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    output = tmp_path / "console.json"
    command = [sys.executable, "-m", "bench.console", "--executions", "3000", "--states", "60"]
    command += ["--repeat", "1", "--json", str(output)]
    done = subprocess.run(
        command, cwd=REPO, env=subprocess_env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(output.read_text())
    assert (result["executions"], result["states"]) == (3000, 60)
    assert set(result["median_ms"]) == {
        "first page",
        "page deep (by cursor)",
        "status FAILED",
        "name prefix",
        "execution JSON",
        "page drawn (graph + table)",
    }
    assert all(value > 0 for value in result["median_ms"].values())


def test_the_distributed_map_benchmark_runs_sizes_through_children(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    output = tmp_path / "dmap.json"
    command = [sys.executable, "-m", "bench.distributed_map", "--sizes", "40,120"]
    command += ["--concurrency", "25", "--json", str(output)]
    done = subprocess.run(
        command, cwd=REPO, env=subprocess_env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(output.read_text())
    assert [run["items"] for run in result["runs"]] == [40, 120]
    assert [run["children_succeeded"] for run in result["runs"]] == [40, 120]
    # The parent's history holds the Map Run, not its items: the same length for any size.
    assert len({run["parent_events"] for run in result["runs"]}) == 1
    assert result["per_item_cost_ratio"] > 0
