"""Functions the rq_scheduled differential test's jobs call."""


def add(a, b=0):
    return a + b


def fail():
    raise RuntimeError("fails on purpose, to be retried")
