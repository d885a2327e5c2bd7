-- Enqueues one job as RQ's Queue.enqueue_job does, atomically.
-- ARGV: one enqueue record (see the shared fragment above).
-- Returns 'pushed' or 'deferred'.
local pending = rqs_pending()
local outcome = rqs_enqueue(1, pending)
rqs_flush(pending)
return outcome
