-- Enqueues one job as RQ's Queue.enqueue_job does, atomically.
-- ARGV: one enqueue record (see the shared fragment above).
-- Returns 'pushed' or 'deferred'.
local outcome = rqs_enqueue(1)
return outcome
