-- Enqueues one job as RQ's Queue.enqueue_job does, atomically.
-- ARGV: one enqueue record (see the shared fragment above).
-- Returns 'pushed' or 'deferred'; fails with RQS_REJECTED, before writing anything, when
-- a key the enqueue would write has the wrong type.
local e = rqs_read(1)
local problem = rqs_check(e, {})
if problem then
  return redis.error_reply('RQS_REJECTED ' .. problem)
end
local pending = rqs_pending()
local outcome = rqs_apply(e, pending)
rqs_flush(pending)
return outcome
