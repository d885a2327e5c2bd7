"""Client side of the status page's control tests (tests/ops/page_controls.rs), run with
the pinned rq / rq-scheduler stack and the job functions of the interop tests.

    python page_scenario.py later URL PREFIX COUNT QUEUE   COUNT jobs PREFIX-0000...,
                                                          due a minute apart from 5 h on
    python page_scenario.py due URL PREFIX COUNT QUEUE     COUNT jobs due long ago

Each job calls rqs_interop_jobs.add(i, 7), so RQ's description holds its arguments.
"""

import sys
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq_scheduler import Scheduler

import rqs_interop_jobs as jobs

PAST = datetime(2020, 1, 1, 12, 0, 0)


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def main():
    command, url, *rest = sys.argv[1:]
    sched = Scheduler(connection=Redis.from_url(url))
    if command in ("later", "due"):
        prefix, count, queue = rest[0], int(rest[1]), rest[2]
        start = utcnow().replace(microsecond=0) + timedelta(hours=5)
        for i in range(count):
            at = PAST if command == "due" else start + timedelta(minutes=i)
            sched.enqueue_at(at, jobs.add, i, 7, job_id=f"{prefix}-{i:04d}", queue_name=queue)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
