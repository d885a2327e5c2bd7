"""Python's view of jobs declared in a schedule file and written by `rqs apply`
(tests/interop/declare.rs).

    python declare_check.py view URL REF_URL EXPECTED   rq_scheduler's client sees every job as
                                                        declared, and writes the same jobs into
                                                        REF_URL hash field for hash field
    python declare_check.py moved URL EXPECTED          after a daemon's burst: queues and schedule
    python declare_check.py verify URL EXPECTED         after `rq worker --burst`: statuses, results

EXPECTED is a JSON file written by the Rust test. Values (args, kwargs, meta, results)
are Python literals, read with ast.literal_eval, so bytes, tuples, None and big ints are
what they are. Prints one line per check group; exits 1 listing every problem.
"""

import ast
import json
import math
import pickle
import sys
import zlib
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq.job import Job
from rq.utils import get_call_string
from rq_scheduler import Scheduler
from rq_scheduler.utils import to_unix

SCHEDULE = "rq:scheduler:scheduled_jobs"
# rqs's record of which set declared what: the only keys rq-scheduler has no part in.
RQS_PREFIX = b"rq:rqs:"

problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def lit(text):
    return ast.literal_eval(text)


def same(a, b):
    """Equality that also compares types, dict order and float signs."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb) and same(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    return a == b


def status_of(job):
    status = job.get_status()
    return getattr(status, "value", status)


def view(conn, ref, expected):
    """What rq_scheduler's client reports: count, get_jobs with times, the job itself."""
    jobs = expected["jobs"]
    sched = Scheduler(connection=conn)
    check(sched.count() == len(jobs), f"count() = {sched.count()}, expected {len(jobs)}")
    timed = {job.id: to_unix(t) for job, t in sched.get_jobs(with_times=True)}
    check(sorted(timed) == sorted(jobs), f"get_jobs() lists {sorted(timed)}, expected {sorted(jobs)}")
    for job_id, spec in jobs.items():
        where = f"{job_id}:"
        lo, hi = spec["score"]
        at = timed.get(job_id)
        check(at is not None and lo <= at <= hi, f"{where} scheduled at {at}, expected {lo}..{hi}")
        check(job_id in sched, f"{where} `in` is False")
        job = Job.fetch(job_id, connection=conn)
        check(job.func_name == spec["func"], f"{where} func_name {job.func_name!r}")
        for name, got in (("args", tuple(job.args)), ("kwargs", job.kwargs), ("meta", job.meta)):
            want = lit(spec[name])
            check(same(got, want), f"{where} {name} {got!r} != {want!r}")
        check(job.origin == spec["origin"], f"{where} origin {job.origin!r}")
        description = spec["description"] or get_call_string(job.func_name, job.args, job.kwargs, max_length=75)
        check(job.description == description, f"{where} description {job.description!r} != {description!r}")
        for name in ("timeout", "result_ttl", "ttl"):
            got = getattr(job, name)
            check(got == spec[name], f"{where} {name} {got!r}, expected {spec[name]!r}")
        check(status_of(job) == "scheduled", f"{where} status {status_of(job)!r}")
        created = conn.hget(job.key, "created_at").decode()
        check(job.created_at is not None and created.endswith("Z") and len(created) == 27, f"{where} created_at {created!r}")
    print(f"python client view: {len(jobs)} jobs listed and fetched as declared")
    reference(conn, ref, expected)


def write_reference(ref, expected):
    """The same jobs, written by rq_scheduler's own client."""
    sched = Scheduler(connection=ref)
    for job_id, spec in expected["jobs"].items():
        args = lit(spec["args"])
        kwargs = lit(spec["kwargs"])
        meta = lit(spec["user_meta"]) or None
        timing = spec["timing"]
        common = dict(queue_name=spec["origin"], timeout=spec["timeout"], meta=meta)
        if "at" in timing:
            when = datetime.fromtimestamp(timing["at"], timezone.utc)
            sched.enqueue_at(when, spec["func"], *args, job_id=job_id, job_ttl=spec["ttl"],
                             job_result_ttl=spec["result_ttl"], job_description=spec["description"],
                             **common, **kwargs)
            continue
        common.update(args=args, kwargs=kwargs, id=job_id, ttl=spec["ttl"], description=spec["description"],
                      repeat=spec["repeat"])
        if spec["result_ttl"] is not None:
            common["result_ttl"] = spec["result_ttl"]
        if "interval" in timing:
            first = datetime.now(timezone.utc) + timedelta(seconds=timing["interval"])
            sched.schedule(first, spec["func"], interval=timing["interval"], **common)
        else:
            sched.cron(timing["cron"], spec["func"], use_local_timezone=timing["local"], **common)


def reference(conn, ref, expected):
    """rqs's hashes against rq_scheduler's, field by field; the same keys besides rqs's own."""
    jobs = expected["jobs"]
    write_reference(ref, expected)
    ours_keys = sorted(k for k in conn.keys("*") if not k.startswith(RQS_PREFIX))
    theirs_keys = sorted(ref.keys("*"))
    check(ours_keys == theirs_keys, f"keys {ours_keys} != rq_scheduler's {theirs_keys}")
    for key in ours_keys:
        ta, tb = conn.ttl(key), ref.ttl(key)
        check((ta < 0) == (tb < 0), f"{key.decode()}: expires in {ta} s, rq_scheduler's in {tb} s")
    identical = {"data": 0, "meta": 0}
    for job_id, spec in jobs.items():
        where = f"{job_id}:"
        ours = conn.hgetall(f"rq:job:{job_id}")
        ref_hash = ref.hgetall(f"rq:job:{job_id}")
        for field in sorted(set(ours) | set(ref_hash)):
            a, b = ours.get(field), ref_hash.get(field)
            name = field.decode()
            if a is None or b is None:
                check(False, f"{where} field {name} only in {'rqs' if b is None else 'rq_scheduler'}'s hash ({a or b!r})")
            elif name == "created_at":
                continue  # the moment each was written
            elif name == "data":
                # (func_name, instance, args, kwargs), zlib-compressed pickle.
                da, db = pickle.loads(zlib.decompress(a)), pickle.loads(zlib.decompress(b))
                check(same(da, db), f"{where} data {da!r} != rq_scheduler's {db!r}")
                identical["data"] += a == b
            elif name == "meta":
                ma, mb = pickle.loads(a), pickle.loads(b)
                check(same(ma, mb), f"{where} meta {ma!r} != rq_scheduler's {mb!r}")
                identical["meta"] += a == b
            else:
                check(a == b, f"{where} field {name} {a!r} != rq_scheduler's {b!r}")
        sa, sb = conn.zscore(SCHEDULE, job_id), ref.zscore(SCHEDULE, job_id)
        if "at" in spec["timing"]:
            check(sa == sb, f"{where} score {sa} != rq_scheduler's {sb}")
        else:
            # rq_scheduler wrote later: a next run computed later is never earlier.
            check(sa is not None and sb is not None and sa <= sb, f"{where} score {sa} > rq_scheduler's {sb}")
    print(f"rq_scheduler's client: the same keys and fields; data pickles byte-identical "
          f"{identical['data']}/{len(jobs)}, meta pickles {identical['meta']}/{len(jobs)}")


def moved(conn, expected):
    """After one daemon's burst: which jobs it pushed, which it kept or re-armed."""
    jobs = expected["jobs"]
    queued = {q: [v.decode() for v in conn.lrange(f"rq:queue:{q}", 0, -1)] for q in expected["queues"]}
    for job_id, spec in jobs.items():
        where = [q for q, ids in queued.items() if job_id in ids]
        want = [spec["origin"]] if spec["due"] else []
        check(where == want, f"{job_id}: in queues {where}, expected {want}")
        periodic = "at" not in spec["timing"]
        want_still = not spec["due"] or (periodic and spec["repeat"] != 1)
        still = conn.zscore(SCHEDULE, job_id) is not None
        check(still == want_still, f"{job_id}: scheduled={still}, expected {want_still}")
        if spec["due"] and spec["repeat"]:
            left = Job.fetch(job_id, connection=conn).meta.get("repeat")
            check(left == spec["repeat"] - 1, f"{job_id}: {left} runs left, expected {spec['repeat'] - 1}")
    due = sum(1 for spec in jobs.values() if spec["due"])
    print(f"moved: {due} due jobs queued, {len(jobs) - due} kept as expected")


def verify(conn, expected):
    """After `rq worker --burst`: every due job has its status and result."""
    jobs = expected["jobs"]
    ran = 0
    for job_id, spec in jobs.items():
        job = Job.fetch(job_id, connection=conn)
        status = status_of(job)
        if not spec["due"]:
            check(status == "scheduled", f"{job_id}: status {status!r}, expected it still scheduled")
            continue
        ran += 1
        check(status == spec["status"], f"{job_id}: status {status!r}, expected {spec['status']!r}")
        if spec["status"] == "finished":
            result = job.return_value()
            want = lit(spec["result"])
            check(same(result, want), f"{job_id}: result {result!r} != {want!r}")
    print(f"worker: {ran} jobs ran with the expected results")


if __name__ == "__main__":
    command, url = sys.argv[1:3]
    with open(sys.argv[-1], encoding="utf-8") as f:
        expected = json.load(f)
    conn = Redis.from_url(url)
    if command == "view":
        view(conn, Redis.from_url(sys.argv[3]), expected)
    else:
        {"moved": moved, "verify": verify}[command](conn, expected)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
