"""Client side of the rqs interop tests, run with the pinned rq / rq-scheduler stack.

    python scenario.py populate URL SUITE   schedule a suite of jobs with rq_scheduler
    python scenario.py dump URL SINCE       print the whole database as normalised JSON
    python scenario.py verify URL           check what an rq worker made of the jobs
    python scenario.py template URL         write one real job hash for benchmarks to copy

Job ids are fixed so that two databases populated from the same suite, or copied from
one another, can be compared key by key. Expectations for `verify` are stored in the
hash `interop:expected` (id -> JSON) by `populate`.
"""

import json
import pickle
import random
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from redis import Redis
from rq import Queue
from rq.job import Job
from rq_scheduler import Scheduler

import rqs_interop_jobs as jobs

PAST = datetime(2020, 1, 1, 12, 0, 0)
FUTURE = datetime(2099, 1, 1, 0, 0, 0)


def expect(conn, job_id, status="finished", result=None, scheduled=False):
    conn.hset(
        "interop:expected",
        job_id,
        json.dumps({"status": status, "result": repr(result), "scheduled": scheduled}),
    )


def make_finished(conn, job_id):
    """A job that already ran (a met dependency)."""
    job = Job.create(jobs.echo, args=("done",), id=job_id, connection=conn, origin="default")
    job.save()
    conn.hset(job.key, "status", "finished")
    return job


def oneoff(conn, sched):
    """Every option of the one-off client calls (issue: one-off jobs)."""
    sched.enqueue_at(PAST, jobs.add, 1, 2, job_id="plain")
    expect(conn, "plain", result=3)
    sched.enqueue_in(timedelta(seconds=-30), jobs.add, 2, 3, job_id="in-past")
    expect(conn, "in-past", result=5)
    sched.enqueue_at(PAST, jobs.echo, "q", job_id="queue-name", queue_name="reports")
    expect(conn, "queue-name", result="q")
    sched.enqueue_at(PAST, jobs.echo, "new", job_id="brand-new-queue", queue_name="brandnew")
    expect(conn, "brand-new-queue", result="new")
    sched.enqueue_at(PAST, jobs.echo, "t", job_id="timeout", timeout=30)
    expect(conn, "timeout", result="t")
    sched.enqueue_at(PAST, jobs.echo, "ttl", job_id="job-ttl", job_ttl=600)
    expect(conn, "job-ttl", result="ttl")
    sched.enqueue_at(PAST, jobs.echo, "r", job_id="result-ttl", job_result_ttl=100)
    expect(conn, "result-ttl", result="r")
    sched.enqueue_at(PAST, jobs.echo, "d", job_id="description", job_description="custom text")
    expect(conn, "description", result="d")
    sched.enqueue_at(PAST, jobs.echo, "m", job_id="user-meta", meta={"owner": "alice", "tags": ["a", "b"]})
    expect(conn, "user-meta", result="m")
    # enqueue_at loses at_front (the flag is set after the hash is saved): pushed at the back.
    sched.enqueue_at(PAST, jobs.echo, "lost", job_id="front-lost", at_front=True)
    expect(conn, "front-lost", result="lost")
    sched.schedule(PAST, jobs.echo, args=["front"], id="front", at_front=True)
    expect(conn, "front", result="front")
    sched.schedule(PAST, jobs.add, args=[5, 6], id="schedule-plain")
    expect(conn, "schedule-plain", result=11)
    sched.schedule(PAST, jobs.add, args=[0, 0], id="schedule-repeat-0", repeat=0)
    expect(conn, "schedule-repeat-0", result=0)
    make_finished(conn, "dep-done")
    sched.enqueue_at(PAST, jobs.echo, "after-done", job_id="dep-met", depends_on="dep-done")
    expect(conn, "dep-met", result="after-done")
    Queue("default", connection=conn).enqueue(jobs.echo, "first", job_id="dep-pending")
    expect(conn, "dep-pending", result="first")
    sched.enqueue_at(PAST, jobs.echo, "after-pending", job_id="dep-unmet", depends_on="dep-pending")
    expect(conn, "dep-unmet", result="after-pending")
    sched.enqueue_at(PAST, jobs.add, 1, 1, job_id="on-success", on_success=jobs.record_success)
    expect(conn, "on-success", result=2)
    sched.enqueue_at(PAST, jobs.fail, "boom", job_id="on-failure", on_failure=jobs.record_failure)
    expect(conn, "on-failure", status="failed")
    sched.enqueue_at(FUTURE, jobs.echo, "later", job_id="not-due")
    expect(conn, "not-due", status=None, scheduled=True)
    # A scheduled id whose hash is gone, and a hash without data: both are unscheduled.
    conn.zadd("rq:scheduler:scheduled_jobs", {"missing-hash": 1577880000})
    conn.hset("rq:job:no-data", mapping={"origin": "default", "status": "scheduled"})
    conn.zadd("rq:scheduler:scheduled_jobs", {"no-data": 1577880000})


def move_to_past(sched, job):
    sched.change_execution_time(job, PAST)


def periodic(conn, sched):
    """Interval, repeat and cron jobs (issue: periodic schedules)."""
    sched.schedule(PAST, jobs.add, args=[1, 1], id="interval", interval=600)
    expect(conn, "interval", result=2, scheduled=True)
    sched.schedule(PAST, jobs.add, args=[2, 2], id="interval-repeat", interval=60, repeat=3)
    expect(conn, "interval-repeat", result=4, scheduled=True)
    sched.schedule(PAST, jobs.add, args=[3, 3], id="last-repeat", interval=60, repeat=1)
    expect(conn, "last-repeat", result=6)
    sched.schedule(PAST, jobs.add, args=[4, 4], id="forever", interval=60, repeat=-1)
    expect(conn, "forever", result=8, scheduled=True)
    job = sched.cron("*/5 * * * *", jobs.echo, args=["cron"], id="cron")
    move_to_past(sched, job)
    expect(conn, "cron", result="cron", scheduled=True)
    job = sched.cron("0 3 * * *", jobs.echo, args=["cron-repeat"], id="cron-repeat", repeat=2)
    move_to_past(sched, job)
    expect(conn, "cron-repeat", result="cron-repeat", scheduled=True)
    job = sched.cron("0 0 1 * *", jobs.echo, args=["cron-last"], id="cron-last", repeat=1, queue_name="reports")
    move_to_past(sched, job)
    expect(conn, "cron-last", result="cron-last")
    job = sched.cron("*/10 * * * *", jobs.echo, args=["tz"], id="cron-local", use_local_timezone=True, at_front=True)
    move_to_past(sched, job)
    expect(conn, "cron-local", result="tz", scheduled=True)
    rich = {
        "when": datetime(2026, 11, 27, 18, 30, 27, 851209),
        "aware": datetime(2026, 11, 27, 18, 30, tzinfo=timezone.utc),
        "point": jobs.Point(1, 2),
        "nested": {"list": [1, [2, (3, 4)], {"k": {5, 6}}], "bytes": b"\x00\xff"},
        "big": 2**70,
        "price": Decimal("19.99"),
    }
    sched.schedule(PAST, jobs.echo, args=["rich"], id="rich-meta", interval=60, repeat=5, meta=rich)
    expect(conn, "rich-meta", result="rich", scheduled=True)
    Queue("default", connection=conn).enqueue(jobs.echo, "dep", job_id="periodic-dep")
    expect(conn, "periodic-dep", result="dep")
    sched.schedule(PAST, jobs.echo, args=["p-dep"], id="periodic-deferred", interval=600, depends_on="periodic-dep")
    expect(conn, "periodic-deferred", result="p-dep", scheduled=True)


def mixed(conn, sched):
    """300 jobs of every kind over 3 queues, all with the same score."""
    rng = random.Random(20261127)
    for i in range(300):
        queue = ("alpha", "beta", "gamma")[i % 3]
        kind = rng.choice(["once", "interval", "repeat", "cron", "front"])
        job_id = f"mixed-{i:03d}-{kind}"
        if kind == "once":
            sched.enqueue_at(PAST, jobs.add, i, 1, job_id=job_id, queue_name=queue)
            expect(conn, job_id, result=i + 1)
        elif kind == "interval":
            sched.schedule(PAST, jobs.add, args=[i, 2], id=job_id, queue_name=queue, interval=300 + i)
            expect(conn, job_id, result=i + 2, scheduled=True)
        elif kind == "repeat":
            repeat = rng.choice([1, 2, 5])
            sched.schedule(PAST, jobs.add, args=[i, 3], id=job_id, queue_name=queue, interval=120, repeat=repeat)
            expect(conn, job_id, result=i + 3, scheduled=repeat > 1)
        elif kind == "cron":
            job = sched.cron(rng.choice(["*/15 * * * *", "0 * * * *", "30 4 * * mon-fri"]), jobs.add,
                             args=[i, 4], id=job_id, queue_name=queue)
            move_to_past(sched, job)
            expect(conn, job_id, result=i + 4, scheduled=True)
        else:
            sched.schedule(PAST, jobs.add, args=[i, 5], id=job_id, queue_name=queue, at_front=True)
            expect(conn, job_id, result=i + 5)


def template(url):
    """Real job hashes for benchmarks to copy: `rq:job:template` (one-off) and
    `rq:job:template-periodic` (every 60 s)."""
    conn = Redis.from_url(url)
    sched = Scheduler(connection=conn)
    sched.enqueue_at(FUTURE, jobs.add, 1, 2, job_id="template")
    sched.cancel("template")
    sched.schedule(FUTURE, jobs.add, args=[1, 2], interval=60, id="template-periodic")
    sched.cancel("template-periodic")


SUITES = {"oneoff": [oneoff], "periodic": [periodic], "mixed": [mixed], "all": [oneoff, periodic, mixed]}


def populate(url, suite):
    conn = Redis.from_url(url)
    sched = Scheduler(connection=conn)
    for step in SUITES[suite]:
        step(conn, sched)


def text(value):
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + value.hex()


def field(name, value, since):
    if name == "meta" and value:
        try:
            return "pickle:" + repr(pickle.loads(value))
        except Exception as e:  # an unreadable meta is reported as it is
            return f"unreadable({e!r}):hex:{value.hex()}"
    if name == "data":
        return "hex:" + value.hex()
    decoded = text(value)
    if name in ("enqueued_at", "started_at", "ended_at", "last_heartbeat") and decoded:
        at = datetime.strptime(decoded, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        if at.timestamp() >= since - 1:
            return "<recent timestamp>"
    return decoded


def dump(url, since):
    """Every key: type, expiry (unix seconds; -1 none) and content, with daemon-chosen
    values normalised."""
    conn = Redis.from_url(url)
    out = {}
    meta_bytes = {}
    for raw_key in sorted(conn.keys("*")):
        key = text(raw_key)
        kind = conn.type(raw_key).decode()
        ttl = conn.ttl(raw_key)
        if ttl >= 0:
            # The expiry instant, not the time left: two dumps taken one after the other
            # (a slow interpreter start between them) still compare.
            ttl += int(conn.time()[0])
        if kind == "string":
            value = text(conn.get(raw_key))
        elif kind == "hash":
            fields = conn.hgetall(raw_key)
            value = {text(k): field(text(k), v, since) for k, v in sorted(fields.items())}
            if b"meta" in fields:
                meta_bytes[key] = fields[b"meta"].hex()
        elif kind == "list":
            value = [text(v) for v in conn.lrange(raw_key, 0, -1)]
        elif kind == "set":
            value = sorted(text(v) for v in conn.smembers(raw_key))
        elif kind == "zset":
            value = [[text(m), s] for m, s in conn.zrange(raw_key, 0, -1, withscores=True)]
        else:
            value = f"<{kind}>"
        extra = []
        if key.startswith("rq:scheduler_instance:"):
            # Instance names are random; birth and death are float timestamps. rqs adds
            # fields of its own (its version, the last heartbeat): listed apart.
            key = "rq:scheduler_instance:<name>"
            extra = sorted(k for k in value if k not in ("birth", "death"))
            value = {
                k: ("<float>" if float(v) > 0 else v)
                for k, v in value.items()
                if k in ("birth", "death")
            }
        out[key] = {"type": kind, "ttl": ttl, "value": value, "extra_fields": extra}
    json.dump({"keys": out, "meta_bytes": meta_bytes}, sys.stdout, indent=1, sort_keys=True)


def verify(url):
    """After `rq worker --burst`: every expected job has its status and result."""
    conn = Redis.from_url(url)
    problems = []
    for raw_id, raw in conn.hgetall("interop:expected").items():
        job_id = raw_id.decode()
        want = json.loads(raw)
        in_schedule = conn.zscore("rq:scheduler:scheduled_jobs", job_id) is not None
        if in_schedule != want["scheduled"]:
            problems.append(f"{job_id}: scheduled={in_schedule}, expected {want['scheduled']}")
        if want["status"] is None:
            continue
        try:
            job = Job.fetch(job_id, connection=conn)
        except Exception as e:
            problems.append(f"{job_id}: cannot fetch: {e!r}")
            continue
        status = job.get_status()
        status = getattr(status, "value", status)
        if status != want["status"]:
            problems.append(f"{job_id}: status {status!r}, expected {want['status']!r}")
            continue
        if want["status"] == "finished":
            result = job.return_value() if hasattr(job, "return_value") else job.result
            if repr(result) != want["result"]:
                problems.append(f"{job_id}: result {result!r}, expected {want['result']}")
    callbacks = sorted(v.decode() for v in conn.lrange("interop:callbacks", 0, -1))
    for needed in ("success:on-success:2", "failure:on-failure"):
        if conn.exists("rq:job:on-success") and needed not in callbacks:
            problems.append(f"callback {needed!r} did not run (got {callbacks})")
    checked = conn.hlen("interop:expected")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"verified {checked} jobs")


if __name__ == "__main__":
    command, url = sys.argv[1], sys.argv[2]
    if command == "populate":
        populate(url, sys.argv[3])
    elif command == "dump":
        dump(url, float(sys.argv[3]))
    elif command == "verify":
        verify(url)
    elif command == "template":
        template(url)
    else:
        sys.exit(f"unknown command {command}")
