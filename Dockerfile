# One image for the orchestrator and the five workers; the compose file picks the command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies and code first, definitions last: editing a definition does not reinstall.
COPY pyproject.toml README.md ./
COPY messages ./messages
COPY broker ./broker
COPY orchestrator ./orchestrator
COPY workers ./workers
RUN pip install .

COPY definitions ./definitions

RUN useradd --create-home --uid 10001 app && mkdir /data && chown app /data
USER app

# The execution store (SQLite) lives on a volume mounted here.
ENV SFN_DB=/data/sfn.db
VOLUME ["/data"]

CMD ["python", "-m", "orchestrator", "--definitions", "/app/definitions"]
