"""Python's view of jobs written by the Rust client and `rqs schedule` (tests/interop/client.rs).

    python client_check.py view URL EXPECTED     the rq_scheduler client sees every job as written
    python client_check.py moved URL EXPECTED    after a daemon's burst: queues and schedule
    python client_check.py verify URL EXPECTED   after `rq worker --burst`: statuses, results, callbacks

EXPECTED is a JSON file written by the Rust test; values are typed as in
crates/rqs-pickle/tests/fixtures/check_writer.py ({"t": "int", "v": "5"}, ...) so that
bytes, tuples and big ints survive the trip. Prints one line per check group; exits 1
listing every problem.
"""

import json
import math
import struct
import sys

from redis import Redis
from rq.job import Job
from rq.utils import get_call_string
from rq_scheduler import Scheduler
from rq_scheduler.utils import to_unix

problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def build(typed):
    t = typed["t"]
    v = typed.get("v")
    if t == "none":
        return None
    if t == "bool":
        return bool(v)
    if t == "int":
        return int(v)
    if t == "float":
        return struct.unpack(">d", bytes.fromhex(v))[0]
    if t == "str":
        return v
    if t == "bytes":
        return bytes.fromhex(v)
    if t == "list":
        return [build(x) for x in v]
    if t == "tuple":
        return tuple(build(x) for x in v)
    if t == "dict":
        return {build(k): build(x) for k, x in v}
    raise ValueError(f"unknown type {t}")


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


def raw(conn, job_id, field):
    value = conn.hget(f"rq:job:{job_id}", field)
    return None if value is None else value.decode()


def view(conn, expected):
    """What rq_scheduler's client reports: count, get_jobs (with times, paged), `in`, the job."""
    jobs = expected["jobs"]
    now = expected["now"]
    sched = Scheduler(connection=conn)
    scheduled = sorted((spec["score"], job_id) for job_id, spec in jobs.items() if spec["score"] is not None)
    check(sched.count() == len(scheduled), f"count() = {sched.count()}, expected {len(scheduled)}")
    due = sum(1 for score, _ in scheduled if score <= now)
    check(sched.count(until=now) == due, f"count(until=now) = {sched.count(until=now)}, expected {due}")
    ids = [job.id for job in sched.get_jobs()]
    check(ids == [job_id for _, job_id in scheduled], f"get_jobs() = {ids}, expected {scheduled}")
    timed = [(job.id, to_unix(t)) for job, t in sched.get_jobs(with_times=True)]
    check(timed == [(j, s) for s, j in scheduled], f"get_jobs(with_times=True) = {timed}")
    page = [job.id for job in sched.get_jobs(offset=1, length=2)]
    check(page == [j for _, j in scheduled][1:3], f"get_jobs(offset=1, length=2) = {page}")
    for job_id, spec in jobs.items():
        where = f"{job_id}:"
        check((job_id in sched) == (spec["score"] is not None), f"{where} `in` is {job_id in sched}")
        job = Job.fetch(job_id, connection=conn)
        check(job.func_name == spec["func"], f"{where} func_name {job.func_name!r}")
        args = tuple(build(a) for a in spec["args"])
        kwargs = {k: build(v) for k, v in spec["kwargs"]}
        check(same(tuple(job.args), args), f"{where} args {job.args!r} != {args!r}")
        check(same(job.kwargs, kwargs), f"{where} kwargs {job.kwargs!r} != {kwargs!r}")
        meta = build(spec["meta"]) if spec["meta"] else {}
        check(same(job.meta, meta), f"{where} meta {job.meta!r} != {meta!r}")
        check(job.origin == spec["origin"], f"{where} origin {job.origin!r}")
        description = spec["description"] or get_call_string(job.func_name, job.args, job.kwargs, max_length=75)
        check(job.description == description, f"{where} description {job.description!r} != {description!r}")
        check(job.timeout == spec["timeout"], f"{where} timeout {job.timeout!r}")
        check(job.result_ttl == spec["result_ttl"], f"{where} result_ttl {job.result_ttl!r}")
        check(job.ttl == spec["ttl"], f"{where} ttl {job.ttl!r}")
        front = raw(conn, job_id, "enqueue_at_front")
        check((front == "1") == spec["at_front"], f"{where} enqueue_at_front {front!r}")
        for field, want in (("success_callback_name", spec["on_success"]), ("failure_callback_name", spec["on_failure"])):
            check(raw(conn, job_id, field) == (want or ""), f"{where} {field} {raw(conn, job_id, field)!r}")
        deps = raw(conn, job_id, "dependency_ids")
        check((json.loads(deps) if deps else []) == spec["depends_on"], f"{where} dependency_ids {deps!r}")
        status = raw(conn, job_id, "status")
        check(status == spec["status_field"], f"{where} status {status!r}, expected {spec['status_field']!r}")
        created = raw(conn, job_id, "created_at")
        check(job.created_at is not None and created.endswith("Z") and len(created) == 27, f"{where} created_at {created!r}")
    print(f"python client view: {len(jobs)} jobs, {len(scheduled)} scheduled")


def moved(conn, expected):
    """After one daemon's burst: which jobs it pushed, which it kept or re-armed."""
    jobs = expected["jobs"]
    queued = {q: [v.decode() for v in conn.lrange(f"rq:queue:{q}", 0, -1)] for q in expected["queues"]}
    for job_id, spec in jobs.items():
        where = [q for q, ids in queued.items() if job_id in ids]
        want = [spec["origin"]] if spec["queued"] else []
        check(where == want, f"{job_id}: in queues {where}, expected {want}")
        still = conn.zscore("rq:scheduler:scheduled_jobs", job_id) is not None
        check(still == spec["scheduled_after"], f"{job_id}: scheduled={still}, expected {spec['scheduled_after']}")
        if spec["at_front"] and spec["queued"]:
            head = queued[spec["origin"]][0]
            check(head == job_id, f"{job_id}: at_front, but the head of {spec['origin']} is {head}")
    print(f"moved: {sum(len(v) for v in queued.values())} jobs queued as expected")


def verify(conn, expected):
    """After `rq worker --burst`: every job that ran has its status and result."""
    jobs = expected["jobs"]
    ran = 0
    for job_id, spec in jobs.items():
        if spec["status"] is None:
            continue
        ran += 1
        job = Job.fetch(job_id, connection=conn)
        status = job.get_status()
        status = getattr(status, "value", status)
        check(status == spec["status"], f"{job_id}: status {status!r}, expected {spec['status']!r}")
        if spec["status"] == "finished":
            result = job.return_value()
            want = build(spec["result"])
            check(same(result, want), f"{job_id}: result {result!r} != {want!r}")
    callbacks = sorted(v.decode() for v in conn.lrange("interop:client-callbacks", 0, -1))
    check(callbacks == sorted(expected["callbacks"]), f"callbacks {callbacks}, expected {expected['callbacks']}")
    print(f"worker: {ran} jobs ran with the expected results, {len(callbacks)} callbacks")


if __name__ == "__main__":
    command, url, path = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        expected = json.load(f)
    {"view": view, "moved": moved, "verify": verify}[command](Redis.from_url(url), expected)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
