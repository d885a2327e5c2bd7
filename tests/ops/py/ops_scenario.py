"""Client side of the rqs operations tests (metrics, subcommands, status page), run with
the pinned rq / rq-scheduler stack and the job functions of the interop tests.

    python ops_scenario.py populate URL        one job of every kind, and a few that rqs
                                               handles differently from rqscheduler
    python ops_scenario.py due URL ID QUEUE    one more job, due now, on QUEUE
    python ops_scenario.py bad-due URL ID      a due job whose meta rqs cannot read

Times are relative to now, and the cron jobs fire once a year, so that nothing populated
becomes due while a test runs.
"""

import pickle
import sys
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq_scheduler import Scheduler

import rqs_interop_jobs as jobs

PAST = datetime(2020, 1, 1, 12, 0, 0)
XSS = "<img src=x onerror=\"document.title='PWNED'\"> & <b>bold</b>"


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def populate(conn, sched):
    soon = utcnow().replace(microsecond=0) + timedelta(hours=1)
    # Periodic jobs.
    sched.schedule(soon, jobs.add, args=[1, 2], id="every-10-min", interval=600, repeat=3)
    sched.cron("0 3 1 1 *", jobs.echo, args=["yearly"], id="report-yearly", queue_name="reports",
               description="Yearly report")
    # One-off jobs: one with a description that must never run in a browser.
    sched.enqueue_at(soon + timedelta(hours=1), jobs.echo, "later", job_id="once-later",
                     job_description=XSS, queue_name="reports")
    sched.enqueue_at(soon + timedelta(hours=2), jobs.echo, "q", job_id="custom-queue-class",
                     meta={"queue_class_name": "rqs_interop_jobs.CustomQueue"})
    sched.enqueue_at(soon + timedelta(hours=2), jobs.echo, "t", job_id="ttl-zero")
    # RQ never writes ttl=0 itself; another client may.
    conn.hset("rq:job:ttl-zero", "ttl", "0")
    # A cron string Python's crontab refuses, written by hand over a valid job.
    sched.cron("0 4 1 1 *", jobs.echo, args=["x"], id="bad-cron")
    conn.hset("rq:job:bad-cron", "meta", pickle.dumps({"cron_string": "61 * * * *"}, protocol=5))
    # A scheduled id whose hash is gone.
    conn.zadd("rq:scheduler:scheduled_jobs", {"gone": int((soon + timedelta(hours=3)).timestamp())})


def due(conn, sched, job_id, queue):
    sched.enqueue_at(PAST, jobs.add, 2, 3, job_id=job_id, queue_name=queue)


def bad_due(conn, sched, job_id):
    sched.enqueue_at(PAST, jobs.echo, "bad", job_id=job_id)
    # What RQ's JSONSerializer would write: rqs reads pickled meta only.
    conn.hset(f"rq:job:{job_id}", "meta", '{"interval": 60}')


def main():
    command, url, *rest = sys.argv[1:]
    conn = Redis.from_url(url)
    sched = Scheduler(connection=conn)
    if command == "populate":
        populate(conn, sched)
    elif command == "due":
        due(conn, sched, *rest)
    elif command == "bad-due":
        bad_due(conn, sched, *rest)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
