"""The command line: ``python -m orchestrator`` and its commands.

``main`` is the entry point (the service, ``run``, ``validate``, ``submit``, ``send-task-*``,
``up``); ``admin`` the operator commands; ``client`` talks to the service over RabbitMQ;
``dead_letters``, ``history_view``, ``exits`` and ``supervisor`` serve them.
"""
