"""EXPRESS executions in memory, as AWS runs them.

``memory`` holds them (bounded); ``routed`` is the store the engine is handed, sending each
call where its execution lives; ``starts`` keeps their asynchronous starts durably, so a
crash runs them again (at least once).
"""
