"""docker-compose.yml and the Dockerfile, checked as far as a machine without Docker can.

The compose file must parse and hold RabbitMQ (pinned, management UI, health check), the
orchestrator and the five workers, all from the one Dockerfile; each service's command must
exist and start outside Docker against the test broker.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import start

REPO = Path(__file__).resolve().parents[1]
WORKERS = {"open", "assign", "work", "close", "escalate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if name != "rabbitmq"}


def test_compose_has_a_pinned_rabbitmq_with_ui_and_health_check(compose: dict[str, Any]) -> None:
    rabbit = compose["services"]["rabbitmq"]
    assert re.fullmatch(r"rabbitmq:\d+\.\d+\.\d+-management", rabbit["image"]), (
        "pinned to a release"
    )
    assert "15672:15672" in rabbit["ports"] and "5672:5672" in rabbit["ports"]
    assert "rabbitmq-diagnostics" in rabbit["healthcheck"]["test"]


def test_compose_runs_the_orchestrator_and_five_workers_from_one_dockerfile(
    compose: dict[str, Any],
) -> None:
    services = app_services(compose)
    assert set(services) == {"orchestrator"} | {f"worker-{w}" for w in WORKERS}
    for name, service in services.items():
        assert service["build"] == ".", name
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy", name
        assert service["environment"]["AMQP_URL"].startswith("amqp://"), name
        assert "@rabbitmq:5672" in service["environment"]["AMQP_URL"], name
    workers = {s["command"][-1] for n, s in services.items() if n.startswith("worker-")}
    assert workers == WORKERS
    assert (REPO / "Dockerfile").is_file()


def test_the_dockerfile_copies_what_exists_and_runs_the_service() -> None:
    text = (REPO / "Dockerfile").read_text()
    for line in text.splitlines():
        if line.startswith("COPY "):
            sources = shlex.split(line)[1:-1]
            for source in sources:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
    assert re.search(r'^CMD \["python", "-m", "orchestrator"', text, re.M)
    assert "pip install ." in text


@pytest.mark.integration
def test_every_service_command_starts_outside_docker(
    compose: dict[str, Any], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    """Run each compose command here (with /app mapped to the checkout); each must come up."""
    started = []
    try:
        for name, service in app_services(compose).items():
            command = [
                str(REPO / a[len("/app/") :]) if a.startswith("/app/") else a
                for a in service["command"]
            ]
            assert command[:2] == ["python", "-m"], name
            env = {**subprocess_env, "SFN_DB": str(tmp_path / "sfn.db")}
            process = start(name, command[2:], env, tmp_path)
            started.append(process)
            process.wait_for("orchestrator serving" if name == "orchestrator" else "started ")
    finally:
        codes = {process.name: process.stop() for process in started}
    assert codes == dict.fromkeys(app_services(compose), 0)
