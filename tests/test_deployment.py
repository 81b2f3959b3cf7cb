"""docker-compose.yml and the Dockerfile, checked as far as a machine without Docker can.

The compose file must parse and hold RabbitMQ (pinned, management UI, health check), the
orchestrator and the five workers, all from the one Dockerfile; each service's command must
exist and start outside Docker against the test broker. Its ``scale`` profile holds
PostgreSQL and three orchestrators sharing it (with their broker and workers); a replica's
command starts here on the local PostgreSQL.
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
    """The single stack's services (no profile), RabbitMQ aside."""
    return {
        name: s
        for name, s in compose["services"].items()
        if name != "rabbitmq" and not s.get("profiles")
    }


def scale_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services of ``docker compose --profile scale up``."""
    return {n: s for n, s in compose["services"].items() if "scale" in s.get("profiles", [])}


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


def test_the_scale_profile_runs_postgresql_and_three_orchestrators_on_it(
    compose: dict[str, Any],
) -> None:
    services = scale_services(compose)
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:\d+\.\d+", postgres["image"]), "pinned to a release"
    assert "pg_isready" in postgres["healthcheck"]["test"]
    replicas = {n: s for n, s in services.items() if n.startswith("orchestrator-")}
    assert len(replicas) == 3
    urls = {s["environment"]["SFN_DB"] for s in replicas.values()}
    assert len(urls) == 1 and urls.pop().startswith("postgresql://sfn:sfn@postgres:5432/")
    brokers = {s.get("environment", {}).get("AMQP_URL") for s in services.values()}
    # Their own broker: the single stack's SQLite orchestrator never takes their messages.
    assert brokers - {None} == {"amqp://sfn:sfn@rabbitmq-scale:5672/"}
    assert len({s["ports"][0] for s in replicas.values()}) == 3, "one API port each"
    for name, service in replicas.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert service["command"] == compose["services"]["orchestrator"]["command"], name
    workers = {s["command"][-1] for n, s in services.items() if n.startswith("scale-worker-")}
    assert workers == WORKERS
    assert set(compose["volumes"]) >= {"postgres-data", "rabbitmq-scale-data"}


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


@pytest.mark.integration
def test_the_replicas_command_starts_outside_docker_on_postgresql(
    compose: dict[str, Any], subprocess_env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    service = compose["services"]["orchestrator-1"]
    command = [
        str(REPO / a[len("/app/") :]) if a.startswith("/app/") else a for a in service["command"]
    ]
    command += ["--api-port", "0"]
    env = {**subprocess_env, "SFN_DB": postgres_url, "SFN_GUARD_FILE": str(tmp_path / "guard")}
    process = start("orchestrator-1", command[2:], env, tmp_path)
    try:
        process.wait_for("orchestrator serving")
    finally:
        assert process.stop() == 0
