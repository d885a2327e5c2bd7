"""RQ's own scheduled jobs, for the rqs --rq-scheduled differential test.

    populate URL       jobs in rq:scheduled:<q> as RQ's client and worker put them there
    rqscheduler URL    RQ's RQScheduler moves every due job (passes back to back)
    dump URL           every key as JSON, enqueued_at normalised, for comparison
    verify URL         after `rq worker --burst`: every moved job ran as expected
"""

import json
import subprocess
import sys
import time
import zlib
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq import Queue, Retry
from rq.job import Job
from rq.scheduler import RQScheduler

try:
    from rq import Repeat
except ImportError:  # pragma: no cover
    Repeat = None

QUEUES = ["default", "other", "bulk", "retry", "repeat"]
BACKLOG = 1500


def past(seconds=5):
    return datetime.now(timezone.utc) - timedelta(seconds=seconds)


def populate(conn):
    q = Queue("default", connection=conn)
    other = Queue("other", connection=conn)
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 1, 2, job_id="plain")
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 3, b=4, job_id="kwargs",
                 meta={"owner": "ops", "nested": {"a": [1, 2.5, None, "x"]}, "big": 2**70},
                 result_ttl=600, failure_ttl=700, description="rich")
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 5, 6, job_id="front", at_front=True)
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 7, 8, job_id="ttl", ttl=900)
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 9, 9, job_id="timeout", job_timeout=42)
    q.enqueue_at(past(), "rq_scheduled_jobs.add", 1, 1, job_id="depends", depends_on="plain")
    q.enqueue_in(timedelta(hours=2), "rq_scheduled_jobs.add", 0, 0, job_id="later")
    other.enqueue_at(past(30), "rq_scheduled_jobs.add", 2, 2, job_id="other-1")
    other.enqueue_at(past(1), "rq_scheduled_jobs.add", 2, 3, job_id="other-2")
    # A due id whose hash is gone: removed from the registry, as RQ does.
    conn.zadd("rq:scheduled:other", {"ghost": int(time.time()) - 3})
    # A job whose stored status is deferred: it leaves the deferred registry.
    other.enqueue_at(past(), "rq_scheduled_jobs.add", 4, 4, job_id="was-deferred")
    conn.hset("rq:job:was-deferred", "status", "deferred")
    conn.zadd("rq:deferred:other", {"was-deferred": 1})
    bulk = Queue("bulk", connection=conn)
    with conn.pipeline() as pipe:
        for i in range(BACKLOG):
            bulk.enqueue_at(past(i % 50 + 1), "rq_scheduled_jobs.add", i, 1,
                            job_id=f"bulk-{i:04d}", pipeline=pipe)
        pipe.execute()
    # A Retry after a real failure, and a Repeat after a real success, made by a worker.
    Queue("retry", connection=conn).enqueue("rq_scheduled_jobs.fail", job_id="retried",
                                            retry=Retry(max=2, interval=[1]))
    if Repeat is not None:
        Queue("repeat", connection=conn).enqueue("rq_scheduled_jobs.add", 2, 2, job_id="repeated",
                                                 repeat=Repeat(times=2, interval=1))
    worker(conn, ["retry", "repeat"])
    # Both are now in their registries, due a second later.
    time.sleep(1.5)


def worker(conn, queues):
    kw = conn.connection_pool.connection_kwargs
    url = f"redis://{kw['host']}:{kw['port']}/{kw['db']}"
    subprocess.run([sys.executable, "-m", "rq.cli", "worker", "--burst", "-u", url, *queues],
                   check=True, capture_output=True)


def rqscheduler(conn):
    scheduler = RQScheduler(QUEUES, connection=conn)
    scheduler.acquire_locks()
    assert set(scheduler._acquired_locks) == set(QUEUES), scheduler._acquired_locks
    now = int(time.time())
    while any(conn.zcount(f"rq:scheduled:{q}", 0, now) for q in QUEUES):
        scheduler.enqueue_scheduled_jobs()
    scheduler.release_locks()


def dump(conn):
    out = {}
    for key in sorted(conn.keys("*")):
        name = key.decode()
        kind = conn.type(key).decode()
        ttl = conn.ttl(key)
        if kind == "hash":
            fields = {}
            for f, v in conn.hgetall(key).items():
                f = f.decode()
                if f == "enqueued_at":
                    datetime.strptime(v.decode(), "%Y-%m-%dT%H:%M:%S.%fZ")
                    v = "<time>"
                elif f in ("data", "meta", "result", "exc_info"):
                    v = v.hex()
                else:
                    v = v.decode("utf-8", "backslashreplace")
                fields[f] = v
            value = fields
        elif kind == "zset":
            value = [[m.decode(), s] for m, s in conn.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            value = [m.decode() for m in conn.lrange(key, 0, -1)]
        elif kind == "set":
            value = sorted(m.decode() for m in conn.smembers(key))
        elif kind == "string":
            value = conn.get(key).decode("utf-8", "backslashreplace")
        else:
            value = kind
        out[name] = {"type": kind, "expires": ttl >= 0, "value": value}
    print(json.dumps(out, indent=1, sort_keys=True))


def verify(conn):
    finished = ["plain", "kwargs", "front", "ttl", "timeout", "depends", "other-1", "other-2",
                "was-deferred"] + [f"bulk-{i:04d}" for i in range(BACKLOG)]
    bad = []
    for job_id in finished:
        job = Job.fetch(job_id, connection=conn)
        if job.get_status() != "finished":
            bad.append((job_id, job.get_status()))
    retried = Job.fetch("retried", connection=conn)
    if retried.get_status() not in ("failed", "scheduled"):
        bad.append(("retried", retried.get_status()))
    if Job.fetch("later", connection=conn).get_status() != "scheduled":
        bad.append(("later", "not scheduled"))
    assert not bad, bad
    print(f"{len(finished)} moved jobs finished; the retried job ran again")


if __name__ == "__main__":
    command, url = sys.argv[1:3]
    conn = Redis.from_url(url)
    {"populate": populate, "rqscheduler": rqscheduler, "dump": dump, "verify": verify}[command](conn)
