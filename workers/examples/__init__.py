"""Runnable examples of worker modules (``python -m workers.integrations_main MODULE``)."""
