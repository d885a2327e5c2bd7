"""Schedules the demo's jobs with rq-scheduler's own Python client, as an application does.

Usage: python schedule.py REDIS_URL QUEUE. Prints one line per job: "<id>\t<the call>".
"""

import sys
import warnings
from datetime import datetime, timedelta, timezone

from redis import Redis
from rq_scheduler import Scheduler

from rqs_demo_tasks import greet

# crontab announces a future change of its default time zone on every call.
warnings.filterwarnings("ignore", category=FutureWarning)

url, queue = sys.argv[1], sys.argv[2]
scheduler = Scheduler(queue_name=queue, connection=Redis.from_url(url))

scheduler.enqueue_in(timedelta(seconds=5), greet, "one-off", job_id="demo-once")
print("demo-once\tscheduler.enqueue_in(timedelta(seconds=5), greet, 'one-off')")

scheduler.schedule(
    datetime.now(timezone.utc) + timedelta(seconds=2),
    greet,
    args=["interval"],
    interval=5,
    id="demo-interval",
)
print("demo-interval\tscheduler.schedule(now + 2 s, greet, args=['interval'], interval=5)")

# Seven fields: second minute hour day month weekday year.
scheduler.cron("*/10 * * * * * *", greet, args=["cron"], id="demo-cron", queue_name=queue)
print("demo-cron\tscheduler.cron('*/10 * * * * * *', greet, args=['cron'])")
