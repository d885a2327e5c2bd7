"""Job functions for the interop test of jobs declared in a schedule file and written by
`rqs apply` (tests/interop/declare.rs).

`rq worker` imports this module to run them.
"""


def capture(*args, **kwargs):
    """Returns what it was called with, so the test can compare every value and type."""
    return (args, kwargs)
