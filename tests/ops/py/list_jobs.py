"""Client side of the `rqs list` tests (tests/ops/list.rs), run with the pinned rq /
rq-scheduler stack and the job functions of the interop tests.

    python list_jobs.py populate URL    jobs of several functions, queues and kinds, the
                                        first due an hour from now, then an hour apart
    python list_jobs.py template URL    one job due in a day, whose hash the scale test
                                        copies

A function may be named by its dotted path (RQ stores the name): the worker that would
import it never runs here.
"""

import sys
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq_scheduler import Scheduler

import rqs_interop_jobs as jobs

# (id, function, queue), in due order.
ONE_OFF = [
    ("report-1", "reports.daily.send_report", "reports"),
    ("welcome-1", "tasks.mail.send_welcome", "mail"),
    ("add-1", jobs.add, "default"),
    ("report-2", "reports.daily.send_report", "reports"),
    ("add-2", jobs.add, "default"),
    ("digest-1", "tasks.mail.send_digest", "mail"),
    ("welcome-2", "tasks.mail.send_welcome", "mail"),
    ("add-3", jobs.add, "default"),
    ("report-3", "reports.daily.send_report", "reports"),
    ("add-4", jobs.add, "default"),
]


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None).replace(microsecond=0)


def populate(sched):
    first = utcnow() + timedelta(hours=1)
    for i, (job_id, func, queue) in enumerate(ONE_OFF):
        args = (1, 2) if func is jobs.add else ()
        sched.enqueue_at(first + timedelta(hours=i), func, *args, job_id=job_id,
                         queue_name=queue)
    # After the one-off jobs: an interval job and a cron job (once a year, on 1 January).
    later = first + timedelta(days=1)
    sched.schedule(later, jobs.echo, args=["tick"], id="every-hour", interval=3600)
    sched.cron("0 3 1 1 *", "reports.yearly.send_report", id="yearly", queue_name="reports")


def template(sched):
    sched.enqueue_at(utcnow() + timedelta(days=1), jobs.add, 1, 2, job_id="template")


def main():
    command, url = sys.argv[1:]
    sched = Scheduler(connection=Redis.from_url(url))
    if command == "populate":
        populate(sched)
    elif command == "template":
        template(sched)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
