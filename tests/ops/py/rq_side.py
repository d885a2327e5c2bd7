"""RQ's own scheduled jobs beside rqs --rq-scheduled (tests/ops/rq_scheduled.rs).

    enqueue URL QUEUE N MS    N jobs on QUEUE via Queue.enqueue_in, due MS ms from now
    runs URL                  {job id: times it ran} as JSON
"""

import json
import sys
from datetime import timedelta

from redis import Redis
from rq import Queue, get_current_job

RUNS = "rq-side:runs"


def record():
    job = get_current_job()
    job.connection.rpush(RUNS, job.id)


if __name__ == "__main__":
    command, url = sys.argv[1:3]
    conn = Redis.from_url(url)
    if command == "enqueue":
        queue, n, ms = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        q = Queue(queue, connection=conn)
        with conn.pipeline() as pipe:
            for i in range(n):
                q.enqueue_in(timedelta(milliseconds=ms), "rq_side.record",
                             job_id=f"{queue}-{i:04d}", pipeline=pipe)
            pipe.execute()
    elif command == "runs":
        counts = {}
        for job_id in conn.lrange(RUNS, 0, -1):
            counts[job_id.decode()] = counts.get(job_id.decode(), 0) + 1
        print(json.dumps(counts))
