"""Job functions for the interop tests of jobs written by the Rust client and `rqs schedule`.

`rq worker` imports this module to run them.
"""


def capture(*args, **kwargs):
    """Returns what it was called with, so the test can compare every value and type."""
    return (args, kwargs)


def add(a, b):
    return a + b


def fail(message):
    raise RuntimeError(message)


def record_success(job, connection, result, *args, **kwargs):
    connection.rpush("interop:client-callbacks", f"success:{job.id}")


def record_failure(job, connection, *exc_info, **kwargs):
    connection.rpush("interop:client-callbacks", f"failure:{job.id}")
