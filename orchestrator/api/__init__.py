"""The AWS Step Functions API (AWS JSON 1.0 protocol) served by the orchestrator."""
