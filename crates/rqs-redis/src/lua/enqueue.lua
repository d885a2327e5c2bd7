-- Shared fragment: RQ's Queue.enqueue_job for one job, as rqs_core::Enqueue describes it.
-- Included at the top of the sink's enqueue script and the store's commit script, so the
-- two can never disagree.
--
-- rqs_enqueue(i, pending) reads one record from ARGV starting at index i:
--   job_id, queue, at_front ('1'|'0'), ttl ('' = none), was_deferred ('1'|'0'), now,
--   n_ready,    then n_ready    (field, value) pairs,
--   n_deferred, then n_deferred (field, value) pairs,
--   n_deps,     then n_deps     dependency ids,
--   n_met,      then n_met      statuses that count as a finished dependency
-- and returns ('pushed' | 'deferred', index just after the record).
--
-- Queue registrations and list pushes are collected in `pending` (from rqs_pending()) and
-- written by rqs_flush(pending) before the script returns: one SADD and one RPUSH/LPUSH
-- per queue instead of one per job. This is the same end state as pushing job by job:
-- LPUSHes only prepend and RPUSHes only append, each kept in job order, and nothing in
-- the script reads the lists.
--
-- Keys are built from RQ's prefixes ({{JOB}}, {{QUEUE}}, {{DEFERRED}}, {{QUEUES}}); RQ's key
-- names carry no hash tags, so these scripts target a single Redis server, as RQ does.

local function rqs_hset_pairs(key, from, count)
  if count > 0 then
    local args = {}
    for k = 0, 2 * count - 1 do
      args[#args + 1] = ARGV[from + k]
    end
    redis.call('HSET', key, unpack(args))
  end
end

local function rqs_pending()
  return { queues = {}, order = {} }
end

local function rqs_queue(pending, queue_key)
  local q = pending.queues[queue_key]
  if not q then
    q = { front = {}, back = {} }
    pending.queues[queue_key] = q
    pending.order[#pending.order + 1] = queue_key
  end
  return q
end

-- unpack() is limited by Lua's stack, so long argument lists go out in slices.
local function rqs_call_chunked(command, key, items)
  for from = 1, #items, 1000 do
    redis.call(command, key, unpack(items, from, math.min(from + 999, #items)))
  end
end

local function rqs_flush(pending)
  if #pending.order > 0 then
    rqs_call_chunked('SADD', '{{QUEUES}}', pending.order)
  end
  for _, queue_key in ipairs(pending.order) do
    local q = pending.queues[queue_key]
    if #q.front > 0 then
      rqs_call_chunked('LPUSH', queue_key, q.front)
    end
    if #q.back > 0 then
      rqs_call_chunked('RPUSH', queue_key, q.back)
    end
  end
end

local function rqs_enqueue(i, pending)
  local id = ARGV[i]
  local queue = ARGV[i + 1]
  local at_front = ARGV[i + 2] == '1'
  local ttl = ARGV[i + 3]
  local was_deferred = ARGV[i + 4] == '1'
  local now = ARGV[i + 5]
  i = i + 6
  local n_ready = tonumber(ARGV[i])
  local ready_at = i + 1
  i = i + 1 + 2 * n_ready
  local n_deferred = tonumber(ARGV[i])
  local deferred_at = i + 1
  i = i + 1 + 2 * n_deferred
  local n_deps = tonumber(ARGV[i])
  local deps = {}
  for k = 1, n_deps do
    deps[k] = ARGV[i + k]
  end
  i = i + 1 + n_deps
  local n_met = tonumber(ARGV[i])
  local met = {}
  for k = 1, n_met do
    met[ARGV[i + k]] = true
  end
  i = i + 1 + n_met

  local job_key = '{{JOB}}' .. id
  local queue_key = '{{QUEUE}}' .. queue
  local deferred_key = '{{DEFERRED}}' .. queue
  local dependencies_key = '{{JOB}}:' .. id .. ':dependencies'
  local q = rqs_queue(pending, queue_key)

  -- A dependency that no longer exists counts as met, as in RQ.
  local blocked = false
  for _, dep in ipairs(deps) do
    local dep_key = '{{JOB}}' .. dep
    if redis.call('EXISTS', dep_key) == 1 then
      local status = redis.call('HGET', dep_key, 'status')
      if not (status and met[status]) then
        blocked = true
        break
      end
    end
  end

  local outcome
  if blocked then
    rqs_hset_pairs(job_key, deferred_at, n_deferred)
    redis.call('ZADD', deferred_key, now, id)
    for _, dep in ipairs(deps) do
      redis.call('SADD', '{{JOB}}' .. dep .. ':dependents', id)
      redis.call('SADD', dependencies_key, dep)
    end
    outcome = 'deferred'
  else
    rqs_hset_pairs(job_key, ready_at, n_ready)
    if was_deferred then
      redis.call('ZREM', deferred_key, id)
    end
    if at_front then
      q.front[#q.front + 1] = id
    else
      q.back[#q.back + 1] = id
    end
    outcome = 'pushed'
  end

  if ttl ~= '' then
    redis.call('EXPIRE', job_key, ttl)
    redis.call('EXPIRE', '{{JOB}}' .. id .. ':dependents', ttl)
    redis.call('EXPIRE', dependencies_key, ttl)
  end
  return outcome, i
end
