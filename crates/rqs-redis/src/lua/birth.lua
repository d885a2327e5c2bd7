-- Registers the birth of a scheduler instance unless a live one has the same name.
-- KEYS[1]: rq:scheduler_instance:<name>; ARGV[1]: birth time (Python float repr);
-- ARGV[2]: time to live in milliseconds; ARGV[3]: the rqs version (marks rqs's records)
-- Returns 1 when registered, 0 when a record without a death field exists (an instance
-- of that name is alive). Unlike rq-scheduler's EXISTS-then-MULTI, two instances of the
-- same name cannot both pass the check.
if rqs_call('EXISTS', KEYS[1]) == 1 and rqs_call('HEXISTS', KEYS[1], 'death') == 0 then
  return 0
end
rqs_call('DEL', KEYS[1])
rqs_call('HSET', KEYS[1], 'birth', ARGV[1], 'rqs', ARGV[3], 'heartbeat', ARGV[1])
rqs_call('PEXPIRE', KEYS[1], ARGV[2])
return 1
