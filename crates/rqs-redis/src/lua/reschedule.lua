-- Changes the due time of a scheduled job, atomically (rq-scheduler's
-- change_execution_time is not: its WATCH has no MULTI).
-- KEYS[1]: the schedule; ARGV[1]: job id; ARGV[2]: new score
-- Returns 1 when the job was scheduled and now has the new score, 0 when it is not scheduled.
if rqs_call('ZSCORE', KEYS[1], ARGV[1]) then
  rqs_call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  return 1
end
return 0
