-- Keeps an instance record alive, unless it already expired.
-- KEYS[1]: rq:scheduler_instance:<name>; ARGV[1]: time to live in milliseconds;
-- KEYS[2]: the instance index (rq:rqs:instances); ARGV[2]: the name; ARGV[3]: how long,
-- in seconds, a name not seen stays in the index
-- The heartbeat is the server's time, so that a birth under the same name can tell a
-- crashed instance's record (a stale heartbeat) without comparing two hosts' clocks.
-- Returns 1 when the record was kept, 0 when it no longer exists (nothing is written).
if rqs_call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local t = rqs_call('TIME')
rqs_call('HSET', KEYS[1], 'heartbeat', string.format('%d.%06d', t[1], t[2]))
rqs_call('PEXPIRE', KEYS[1], ARGV[1])
-- Best effort, as at birth: the index must never stop a heartbeat.
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.pcall('ZADD', KEYS[2], now, ARGV[2])
redis.pcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - tonumber(ARGV[3])))
return 1
