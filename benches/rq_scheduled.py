"""Helpers of benches/rq_scheduled.rs (RQ's own registries, rqs against RQScheduler).

    fill URL N             N jobs due now in rq:scheduled:bulk (Queue.enqueue_at)
    rqscheduler URL        RQScheduler's passes back to back until none is due; prints seconds
    punctual URL N         N jobs due at N distinct seconds from two seconds on
"""

import sys
import time
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq import Queue
from rq.scheduler import RQScheduler


def main():
    command, url = sys.argv[1:3]
    conn = Redis.from_url(url)
    if command == "fill":
        conn.flushdb()
        q = Queue("bulk", connection=conn)
        past = datetime.now(timezone.utc) - timedelta(seconds=5)
        with conn.pipeline() as p:
            for i in range(int(sys.argv[3])):
                q.enqueue_at(past, "operator.add", i, 1, job_id=f"b{i:05d}", pipeline=p)
            p.execute()
    elif command == "rqscheduler":
        s = RQScheduler(["bulk"], connection=conn)
        s.acquire_locks()
        started = time.perf_counter()
        while conn.zcard("rq:scheduled:bulk"):
            s.enqueue_scheduled_jobs()
        print(time.perf_counter() - started)
        s.release_locks()
    elif command == "punctual":
        q = Queue("punctual", connection=conn)
        base = int(time.time()) + 2
        for i in range(int(sys.argv[3])):
            at = datetime.fromtimestamp(base + i, timezone.utc)
            q.enqueue_at(at, "operator.add", i, 1, job_id=f"p{i:03d}")


if __name__ == "__main__":
    main()
