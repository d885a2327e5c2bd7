-- Keeps an instance record alive, unless it already expired.
-- KEYS[1]: rq:scheduler_instance:<name>; ARGV[1]: the time (Python float repr);
-- ARGV[2]: time to live in milliseconds
-- Returns 1 when the record was kept, 0 when it no longer exists (nothing is written).
if rqs_call('EXISTS', KEYS[1]) == 0 then
  return 0
end
rqs_call('HSET', KEYS[1], 'heartbeat', ARGV[1])
rqs_call('PEXPIRE', KEYS[1], ARGV[2])
return 1
