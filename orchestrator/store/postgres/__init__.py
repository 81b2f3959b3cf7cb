"""The store several orchestrator replicas share, on PostgreSQL.

``store`` is the store (the SQLite store's code, with row locks, revisions and claimed
sweeps); ``dialect`` speaks the SQLite store's statements to PostgreSQL; ``schema`` is its
tables and their versions; ``changes`` tells every replica's console what another stepped.
"""
