"""Finding a real RabbitMQ for integration tests.

testcontainers' RabbitMQ when a Docker engine answers; otherwise the broker at ``AMQP_URL``
(default ``amqp://guest:guest@127.0.0.1:5672/``). Under ``CI`` an unreachable broker is a
failure, never a skip.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
RABBITMQ_IMAGE = "rabbitmq:3.13-management"


def docker_available() -> bool:
    """Whether a Docker engine answers a ping within a few seconds."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def broker_answers(url: str, timeout: float = 3.0) -> str | None:
    """None when an AMQP 0-9-1 broker answers at ``url``; else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5672
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            frame = sock.recv(7)
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc}"
    if not frame or frame[0] != 1:  # a METHOD frame carrying Connection.Start
        return f"{host}:{port} did not answer as an AMQP 0-9-1 broker"
    return None


@contextmanager
def rabbitmq_url() -> Iterator[str]:
    """Yield the URL of a real broker, or raise ``RuntimeError`` saying why there is none."""
    if docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer(RABBITMQ_IMAGE) as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(container.port)
            yield f"amqp://{container.username}:{container.password}@{host}:{port}/"
        return
    url = os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL
    problem = broker_answers(url)
    if problem:
        raise RuntimeError(f"no Docker engine and no RabbitMQ at AMQP_URL: {problem}")
    yield url
