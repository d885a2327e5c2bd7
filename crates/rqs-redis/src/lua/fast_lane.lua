-- The fast lane (rqs_core::fast): reads a window of due jobs and hands over, in the same
-- atomic step, every one that needs no decision, stopping before the first that does.
-- Every value written comes from the arguments, computed in Rust by the same functions
-- as the ordinary path; this script only tests eligibility. All reads and type checks
-- come before the first write, so the window applies whole or not at all.
-- KEYS[1]: the schedule; KEYS[2]: rq:queues; KEYS[3]: the pauses (rq:rqs:paused): a job
-- of a paused queue needs a decision (the ordinary path leaves it, 'paused'), and with
-- every queue paused the window hands nothing over.
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
-- Scores are not read with the page (WITHSCORES formats every score, about 7% of the
-- script's cost): one ZSCORE per distinct score, and ZCOUNT tells where its jobs end.
-- Per job, the script keeps only what differs from the common case (the first job's
-- queue, no meta plan, no timeout of its own): Lua's own work was a fifth of the cost.
local schedule = KEYS[1]
local known = rqs_call('TYPE', KEYS[2])['ok']
if known ~= 'set' and known ~= 'none' then
  return { 1 }
end
local paused = rqs_paused(KEYS[3])
if paused and paused['*'] then
  return { 1, {}, {} }
end
local plans = {}
local longest = 0
local i = 7
for p = 1, tonumber(ARGV[6]) do
  plans[ARGV[i]] = p
  longest = math.max(longest, #ARGV[i])
  i = i + 3
end
local page = rqs_call('ZRANGEBYSCORE', schedule, 0, ARGV[1], 'LIMIT', ARGV[2], ARGV[3])
local queue_ok = {}
-- Eligible job j: keys[j]; origins[j] only when not first_origin; planned[j] only
-- with a meta plan; timed[j] only when it has a timeout of its own.
local keys, origins, planned, timed = {}, {}, {}, {}
local first_origin
local n = 0
local stopped = 0
for k = 1, #page do
  local key = '{{JOB}}' .. page[k]
  -- A key of another type makes HMGET fail: pcall turns that into "needs a decision".
  local f = redis.pcall('HMGET', key, 'origin', 'status', 'timeout', 'ttl',
    'enqueue_at_front', 'dependency_ids', 'dependency_id')
  local origin = f[1]
  if f.err or not origin or origin == '' or f[2] == 'deferred' or f[5]
    or (paused and paused[origin])
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
  if n == 1 then
    first_origin = origin
  elseif origin ~= first_origin then
    origins[n] = origin
  end
  if plan > 0 then
    planned[n] = plan
  end
  if f[3] and f[3] ~= '' then
    timed[n] = true
  end
end
if n == 0 then
  return { stopped, {}, {} }
end
-- From here on, page holds the ids handed over.
for k = #page, n + 1, -1 do
  page[k] = nil
end
-- The window starts at the due job of rank ARGV[2], and the jobs of one score are
-- consecutive: the count of due jobs up to a score is where its jobs end. Read before
-- any write, since re-arming a job changes the counts.
local skip = tonumber(ARGV[2])
local scores, ends = {}, {}
local j = 1
while j <= n do
  local score = redis.call('ZSCORE', schedule, page[j])
  scores[#scores + 1] = score
  -- At least one job: a loop that cannot advance would hold Redis for good.
  j = math.max(j + 1, redis.call('ZCOUNT', schedule, 0, score) - skip + 1)
  ends[#ends + 1] = j - 1
end

-- Writes only from here.
local stamp, timeout = ARGV[4], ARGV[5]
local mixed = next(origins) ~= nil
local pushes, order = {}, { first_origin }
pushes[first_origin] = mixed and {} or page
-- Re-armed jobs: (score, id) pairs for one ZADD; staying[j] keeps them in the schedule.
local rearm, staying = {}, {}
local runs = {}
local r = 1
local run_end, score = ends[1], scores[1]
local run_len, run_score, run_origin, run_plan = 0, nil, nil, nil
for j = 1, n do
  local id = page[j]
  local origin = origins[j] or first_origin
  local plan = planned[j] or 0
  if j > run_end then
    r = r + 1
    run_end, score = ends[r], scores[r]
  end
  if timed[j] then
    redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp)
  else
    redis.call('HSET', keys[j], 'status', 'queued', 'enqueued_at', stamp, 'timeout', timeout)
  end
  if plan > 0 then
    local at = 7 + 3 * (plan - 1)
    if ARGV[at + 1] ~= '' then
      redis.call('HSET', keys[j], 'meta', ARGV[at + 1])
    end
    if ARGV[at + 2] ~= '' then
      rearm[#rearm + 1] = ARGV[at + 2]
      rearm[#rearm + 1] = id
      staying[j] = true
    end
  end
  if mixed then
    local list = pushes[origin]
    if not list then
      list = {}
      pushes[origin] = list
      order[#order + 1] = origin
    end
    list[#list + 1] = id
  end
  if run_len > 0 and score == run_score and origin == run_origin and plan == run_plan then
    run_len = run_len + 1
  else
    if run_len > 0 then
      runs[#runs + 1] = run_len
      runs[#runs + 1] = run_score
      runs[#runs + 1] = run_origin
      runs[#runs + 1] = run_plan
    end
    run_len, run_score, run_origin, run_plan = 1, score, origin, plan
  end
end
runs[#runs + 1] = run_len
runs[#runs + 1] = run_score
runs[#runs + 1] = run_origin
runs[#runs + 1] = run_plan
local queue_keys = {}
for q = 1, #order do
  queue_keys[q] = '{{QUEUE}}' .. order[q]
end
rqs_call_chunked('SADD', KEYS[2], queue_keys)
for q = 1, #order do
  rqs_call_chunked('RPUSH', queue_keys[q], pushes[order[q]])
end
local leaving = page
if #rearm > 0 then
  -- Pairs stay whole: the chunks are of an even size.
  rqs_call_chunked('ZADD', schedule, rearm)
  leaving = {}
  for j = 1, n do
    if not staying[j] then
      leaving[#leaving + 1] = page[j]
    end
  end
end
if #leaving > 0 then
  rqs_call_chunked('ZREM', schedule, leaving)
end
return { stopped, page, runs }
