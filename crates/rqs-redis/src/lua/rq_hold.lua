-- Takes or refreshes RQ's per-queue scheduler locks, as RQScheduler does (SET NX EX, or a
-- refresh of a lock that is already ours).
-- KEYS: the lock keys (rq:scheduler-lock:<queue>)
-- ARGV[1]: our token; ARGV[2]: ttl in seconds; ARGV[3]: a token prefix whose holders we
-- may take over ('' for none): another rqs instance's, which is no longer active
-- Returns one 1 (ours) or 0 (another scheduler's) per key.
local out = {}
local prefix = ARGV[3]
for i, key in ipairs(KEYS) do
  local holder = rqs_call('GET', key)
  if holder == ARGV[1]
    or not holder
    or (prefix ~= '' and string.sub(holder, 1, #prefix) == prefix) then
    rqs_call('SET', key, ARGV[1], 'EX', ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
