-- Shared fragment: RQ's Queue.enqueue_job for one job, as rqs_core::Enqueue describes it.
-- Included at the top of the store's commit and fast-lane scripts, so the
-- two can never disagree.
--
-- rqs_read(i) reads one record from ARGV starting at index i:
--   job_id, queue, at_front ('1'|'0'), ttl ('' = none), was_deferred ('1'|'0'), now,
--   n_ready,    then n_ready    (field, value) pairs,
--   n_deferred, then n_deferred (field, value) pairs,
--   n_deps,     then n_deps     dependency ids,
--   n_met,      then n_met      statuses that count as a finished dependency
-- and returns the record and the index just after it.
--
-- Redis does not undo a script that fails half-way, so nothing may fail after the first
-- write. rqs_check(e, types) therefore does every read first: it makes sure each key the
-- hand-off will write has the type it needs (returning a reason when one does not) and
-- decides whether a dependency blocks the job. rqs_apply(e, pending) then only writes.
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
    rqs_call('HSET', key, unpack(args))
  end
end

-- The type of a key, remembered for the rest of the script (only rqs_check asks, and the
-- writes it allows never change a key's type).
local function rqs_type(types, key)
  local t = types[key]
  if not t then
    t = rqs_call('TYPE', key)['ok']
    types[key] = t
  end
  return t
end

-- nil when `key` is absent or of type `want`, else a reason.
local function rqs_wrong_type(types, key, want)
  local t = rqs_type(types, key)
  if t == 'none' or t == want then
    return nil
  end
  return 'key ' .. key .. ' is a ' .. t .. ', not a ' .. want
end

-- The pauses in force at `now` (Unix seconds; nil: the server's clock, read only when a
-- pause exists), from the hash `key` (see rqs_core::keys::PAUSED): a table queue name →
-- true ('*' for every queue), or nil when nothing is paused (the common case costs one
-- read of an absent key).
local function rqs_paused(key, now)
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then
    return nil
  end
  now = now or tonumber(redis.call('TIME')[1])
  local paused, any = {}, false
  for k = 1, #fields, 2 do
    local ends = fields[k + 1]
    if ends == '' or (tonumber(ends) or 0) > now then
      paused[fields[k]] = true
      any = true
    end
  end
  return any and paused or nil
end

local function rqs_pending()
  return { queues = {}, order = {} }
end

-- unpack() is limited by Lua's stack, so long argument lists go out in slices.
local function rqs_call_chunked(command, key, items)
  for from = 1, #items, 1000 do
    rqs_call(command, key, unpack(items, from, math.min(from + 999, #items)))
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

local function rqs_read(i)
  local e = {
    id = ARGV[i],
    queue = ARGV[i + 1],
    at_front = ARGV[i + 2] == '1',
    ttl = ARGV[i + 3],
    was_deferred = ARGV[i + 4] == '1',
    now = ARGV[i + 5],
    deps = {},
    met = {},
  }
  i = i + 6
  e.n_ready = tonumber(ARGV[i])
  e.ready_at = i + 1
  i = i + 1 + 2 * e.n_ready
  e.n_deferred = tonumber(ARGV[i])
  e.deferred_at = i + 1
  i = i + 1 + 2 * e.n_deferred
  local n_deps = tonumber(ARGV[i])
  for k = 1, n_deps do
    e.deps[k] = ARGV[i + k]
  end
  i = i + 1 + n_deps
  local n_met = tonumber(ARGV[i])
  for k = 1, n_met do
    e.met[ARGV[i + k]] = true
  end
  i = i + 1 + n_met
  e.job_key = '{{JOB}}' .. e.id
  e.queue_key = '{{QUEUE}}' .. e.queue
  e.deferred_key = '{{DEFERRED}}' .. e.queue
  e.dependencies_key = '{{JOB}}:' .. e.id .. ':dependencies'
  return e, i
end

-- Reads only. Returns nil when the job can be applied (and sets e.blocked), else a reason.
local function rqs_check(e, types)
  local problem = rqs_wrong_type(types, e.job_key, 'hash')
    or rqs_wrong_type(types, '{{QUEUES}}', 'set')
    or rqs_wrong_type(types, e.queue_key, 'list')
    or rqs_wrong_type(types, e.deferred_key, 'zset')
  if problem then
    return problem
  end
  -- A dependency that no longer exists counts as met, as in RQ.
  e.blocked = false
  for _, dep in ipairs(e.deps) do
    local dep_key = '{{JOB}}' .. dep
    local t = rqs_type(types, dep_key)
    if t == 'hash' then
      local status = rqs_call('HGET', dep_key, 'status')
      if not (status and e.met[status]) then
        e.blocked = true
      end
    elseif t ~= 'none' then
      return 'dependency key ' .. dep_key .. ' is a ' .. t .. ', not a hash'
    end
  end
  if e.blocked then
    problem = rqs_wrong_type(types, e.dependencies_key, 'set')
    for _, dep in ipairs(e.deps) do
      problem = problem or rqs_wrong_type(types, '{{JOB}}' .. dep .. ':dependents', 'set')
    end
  end
  return problem
end

-- Writes only; call after rqs_check returned nil. Returns 'pushed' or 'deferred'.
local function rqs_apply(e, pending)
  local q = pending.queues[e.queue_key]
  if not q then
    q = { front = {}, back = {} }
    pending.queues[e.queue_key] = q
    pending.order[#pending.order + 1] = e.queue_key
  end
  local outcome
  if e.blocked then
    rqs_hset_pairs(e.job_key, e.deferred_at, e.n_deferred)
    rqs_call('ZADD', e.deferred_key, e.now, e.id)
    for _, dep in ipairs(e.deps) do
      rqs_call('SADD', '{{JOB}}' .. dep .. ':dependents', e.id)
      rqs_call('SADD', e.dependencies_key, dep)
    end
    outcome = 'deferred'
  else
    rqs_hset_pairs(e.job_key, e.ready_at, e.n_ready)
    if e.was_deferred then
      rqs_call('ZREM', e.deferred_key, e.id)
    end
    if e.at_front then
      q.front[#q.front + 1] = e.id
    else
      q.back[#q.back + 1] = e.id
    end
    outcome = 'pushed'
  end
  if e.ttl ~= '' then
    rqs_call('EXPIRE', e.job_key, e.ttl)
    rqs_call('EXPIRE', '{{JOB}}' .. e.id .. ':dependents', e.ttl)
    rqs_call('EXPIRE', e.dependencies_key, e.ttl)
  end
  return outcome
end
