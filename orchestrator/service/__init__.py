"""The orchestrator service: consumes its queues, drives the engine, publishes, fires timers.

``loop`` runs it (connect, subscribe, serve until stopped); ``handlers`` turn deliveries into
engine calls committed in batches; ``publisher`` sends the outbox; ``acks`` acknowledges in
runs; ``timers`` fires stored deadlines on the ``clock``; ``crash_guard``, ``backoff`` and
``function_queues`` keep faults visible and bounded; ``replies`` answers askers at once.
"""
