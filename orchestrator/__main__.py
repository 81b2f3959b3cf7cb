"""``python -m orchestrator``: the service, or one of the CLI commands."""

from orchestrator.cli.main import main

main()
