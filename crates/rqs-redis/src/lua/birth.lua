-- Registers the birth of a scheduler instance unless a live one has the same name.
-- KEYS[1]: rq:scheduler_instance:<name>; ARGV[1]: birth time (Python float repr);
-- ARGV[2]: time to live in milliseconds; ARGV[3]: the rqs version (marks rqs's records);
-- ARGV[4]: how old, in milliseconds, an rqs record's heartbeat may be before the record
-- counts as a crashed instance's; ARGV[5]: the name
-- KEYS[2]: the instance index (rq:rqs:instances), where the name is noted, best effort
-- Returns 1 when registered, 0 when a live instance has the name: a record without a death
-- field that is Python's, or rqs's with a fresh heartbeat. Unlike rq-scheduler's
-- EXISTS-then-MULTI, two instances of the same name cannot both pass the check.
-- Heartbeats are the server's time (heartbeat.lua), so no client clock is compared.
if rqs_call('EXISTS', KEYS[1]) == 1 and rqs_call('HEXISTS', KEYS[1], 'death') == 0 then
  local beat = tonumber(rqs_call('HGET', KEYS[1], 'heartbeat'))
  if rqs_call('HEXISTS', KEYS[1], 'rqs') == 0 or not beat then
    return 0
  end
  local t = rqs_call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now_ms - beat * 1000 < tonumber(ARGV[4]) then
    return 0
  end
end
local t = rqs_call('TIME')
rqs_call('DEL', KEYS[1])
rqs_call('HSET', KEYS[1], 'birth', ARGV[1], 'rqs', ARGV[3],
  'heartbeat', string.format('%d.%06d', t[1], t[2]))
rqs_call('PEXPIRE', KEYS[1], ARGV[2])
-- The index only helps readers find the records: a wrong type or an ACL that refuses it
-- must not stop a birth.
redis.pcall('ZADD', KEYS[2], string.format('%d.%06d', t[1], t[2]), ARGV[5])
return 1
