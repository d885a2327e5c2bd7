"""The demo's job: the rq worker runs it; each run leaves a record in Redis."""

from datetime import datetime, timezone

from rq import get_current_job

# One entry per run: "<job id>\t<enqueued_at of the hand-off it ran>\t<what it said>".
RUNS = "rqs-demo:runs"


def greet(kind):
    job = get_current_job()
    text = f"hello from the {kind} job at {datetime.now(timezone.utc):%H:%M:%S} UTC"
    # The raw field, as the hand-off wrote it, so the demo can match runs to hand-offs.
    enqueued_at = job.connection.hget(job.key, "enqueued_at") or b""
    job.connection.rpush(RUNS, f"{job.id}\t{enqueued_at.decode()}\t{text}")
    return text
