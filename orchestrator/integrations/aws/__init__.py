"""The ``aws`` target: a Task's service integration carried out against an AWS endpoint."""
