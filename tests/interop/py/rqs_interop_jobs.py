"""Job functions, callbacks and meta classes for the rqs interop tests.

The rq worker imports this module to run the jobs; the Python rqscheduler imports it
to unpickle meta that holds the custom class below.
"""


def add(a, b):
    return a + b


def echo(value):
    return value


def fail(message):
    raise RuntimeError(message)


def record_success(job, connection, result, *args, **kwargs):
    connection.rpush("interop:callbacks", f"success:{job.id}:{result!r}")


def record_failure(job, connection, *exc_info, **kwargs):
    connection.rpush("interop:callbacks", f"failure:{job.id}")


class Point:
    """A user object stored in meta: rqs must keep it without understanding it."""

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __repr__(self):
        return f"Point({self.x!r}, {self.y!r})"
