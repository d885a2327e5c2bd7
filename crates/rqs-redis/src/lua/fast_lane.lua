-- The fast lane (rqs_core::fast): reads a window of due jobs and hands over, in the same
-- atomic step, every one that needs no decision, stopping before the first that does.
-- Every value written comes from the arguments, computed in Rust by the same functions
-- as the ordinary path; this script only tests eligibility. All reads and type checks
-- come before the first write, so the window applies whole or not at all.
-- KEYS[1]: the schedule; KEYS[2]: rq:queues
-- ARGV[1]: upper score bound; ARGV[2]: jobs to skip; ARGV[3]: most jobs to hand over;
-- ARGV[4]: enqueued_at; ARGV[5]: default timeout; ARGV[6]: number of meta plans; then
-- per plan: meta, new meta ('' = unchanged), next score ('' = leave the schedule).
-- A meta longer than every plan's is never read (it cannot match): a job with a huge
-- meta stops the window instead of costing Redis a copy.
-- The calls made per job use redis.call, not rqs_call: the wrapper costs Redis about 5%
-- here, and a refusal by the ACL makes the scheduler drop the fast lane for the run, so
-- the ordinary path reports it with the key and the command.
-- Returns { stopped (0|1), ids, runs }: the ids handed over, in order, and the runs of
-- consecutive ones that share a score, a queue and a plan (0 = none), flat as
-- length, score, queue, plan, ... (most windows are one run: this keeps the reply small).
local schedule = KEYS[1]
local known = rqs_call('TYPE', KEYS[2])['ok']
if known ~= 'set' and known ~= 'none' then
  return { 1 }
end
local plans = {}
local longest = 0
local i = 7
for p = 1, tonumber(ARGV[6]) do
  plans[ARGV[i]] = p
  longest = math.max(longest, #ARGV[i])
  i = i + 3
end
local page = rqs_call('ZRANGEBYSCORE', schedule, 0, ARGV[1], 'WITHSCORES', 'LIMIT', ARGV[2], ARGV[3])
local queue_ok = {}
local keys, origins, bare, planned = {}, {}, {}, {}
local n = 0
local stopped = 0
for k = 1, #page, 2 do
  local key = '{{JOB}}' .. page[k]
  -- A key of another type makes HMGET fail: pcall turns that into "needs a decision".
  local f = redis.pcall('HMGET', key, 'origin', 'status', 'timeout', 'ttl',
    'enqueue_at_front', 'dependency_ids', 'dependency_id')
  local origin = f[1]
  if f.err or not origin or origin == '' or f[2] == 'deferred' or f[5]
    or (f[4] and f[4] ~= '') or (f[6] and f[6] ~= '') or (f[7] and f[7] ~= '') then
    stopped = 1
    break
  end
  -- Queue keys are checked once per script: a write can never fail on a wrong type.
  local ok = queue_ok[origin]
  if ok == nil then
    local t = rqs_call('TYPE', '{{QUEUE}}' .. origin)['ok']
    ok = t == 'list' or t == 'none'
    queue_ok[origin] = ok
  end
  local plan = 0
  if ok then
    -- The length first: a meta longer than every plan's cannot match and is never read.
    local meta_len = redis.call('HSTRLEN', key, 'meta')
    if meta_len > 0 then
      plan = meta_len <= longest and plans[redis.call('HGET', key, 'meta')] or -1
    end
  end
  if not ok or plan < 0 or redis.call('HEXISTS', key, 'data') == 0 then
    stopped = 1
    break
  end
  n = n + 1
  keys[n] = key
  origins[n] = origin
  bare[n] = not f[3] or f[3] == ''
  planned[n] = plan
end

-- Writes only from here.
if n == 0 then
  return { stopped, {}, {} }
end
local ids, runs = {}, {}
local stamp, timeout = ARGV[4], ARGV[5]
local leaving = {}
local order = {}
local pushes = {}
for j = 1, n do
  local id = page[2 * j - 1]
  local plan = planned[j]
  if plan == 0 then
    if bare[j] then
      redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp, 'timeout', timeout)
    else
      redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp)
    end
    leaving[#leaving + 1] = id
  else
    local at = 7 + 3 * (plan - 1)
    local new_meta = ARGV[at + 1]
    if bare[j] then
      redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp, 'timeout', timeout)
    else
      redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp)
    end
    if new_meta ~= '' then
      redis.call('HSET', keys[j], 'meta', new_meta)
    end
    if ARGV[at + 2] == '' then
      leaving[#leaving + 1] = id
    else
      rqs_call('ZADD', schedule, ARGV[at + 2], id)
    end
  end
  local origin = origins[j]
  local list = pushes[origin]
  if not list then
    list = {}
    pushes[origin] = list
    order[#order + 1] = origin
  end
  list[#list + 1] = id
  ids[j] = id
  local r = #runs
  if r > 0 and runs[r - 2] == page[2 * j] and runs[r - 1] == origin and runs[r] == plan then
    runs[r - 3] = runs[r - 3] + 1
  else
    runs[r + 1] = 1
    runs[r + 2] = page[2 * j]
    runs[r + 3] = origin
    runs[r + 4] = plan
  end
end
local queue_keys = {}
for q = 1, #order do
  queue_keys[q] = '{{QUEUE}}' .. order[q]
end
rqs_call_chunked('SADD', KEYS[2], queue_keys)
for q = 1, #order do
  rqs_call_chunked('RPUSH', queue_keys[q], pushes[order[q]])
end
if #leaving > 0 then
  rqs_call_chunked('ZREM', schedule, leaving)
end
return { stopped, ids, runs }
