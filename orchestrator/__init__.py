"""The orchestrator: reads ASL definitions, runs executions, dispatches Tasks over RabbitMQ."""
