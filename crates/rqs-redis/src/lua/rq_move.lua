-- Moves the due jobs of one of RQ's scheduled-job registries into their queue, as RQ's
-- RQScheduler.enqueue_scheduled_jobs does (Queue._enqueue_job for each job, no
-- dependency check), but atomically and only while the queue's lock is ours.
-- KEYS[1]: rq:scheduled:<q>; KEYS[2]: rq:scheduler-lock:<q>; KEYS[3]: rq:queue:<q>;
-- KEYS[4]: the rqs quarantine
-- ARGV[1]: our lock token; ARGV[2]: the cutoff (Unix seconds, inclusive); ARGV[3]: at
-- most this many jobs; ARGV[4]: enqueued_at (RQ's format); ARGV[5]: RQ's default
-- timeout; ARGV[6]: the job key prefix; ARGV[7]: rq:deferred:<q>; ARGV[8]: now (Unix
-- seconds, for quarantine records); ARGV[9]: the queue name
-- Returns {pushed, missing, quarantined, more} or {-1} when the lock is not ours.
--
-- What RQ writes is the whole hash as it read it, with status queued, its origin set to
-- the queue, enqueued_at and a default timeout: the same values, so only those are
-- written here. A job whose
-- stored status is deferred leaves the deferred registry; a positive ttl is set again on
-- the hash and its dependents and dependencies sets. Jobs with an RQ 3 rate limit, and
-- keys of the wrong type, go to the quarantine with the reason (RQ would throttle the
-- first and fail on the second).
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return {-1}
end
local prefix, deferred = ARGV[6], ARGV[7]
local ids = rqs_call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local function kind(key)
  return rqs_call('TYPE', key)['ok']
end
local queue_type = kind(KEYS[3])
local deferred_type = kind(deferred)
local jobs = {}
for i, id in ipairs(ids) do
  local key = prefix .. id
  local job = {id = id, key = key}
  -- HSTRLEN answers for the common case in one call: a hash with data; a wrong type is an
  -- error reply (pcall), a missing key or field a 0.
  local size = redis.pcall('HSTRLEN', key, 'data')
  if type(size) == 'table' then
    job.problem = 'key ' .. key .. ' is a ' .. kind(key) .. ', not a hash'
  elseif size == 0 and rqs_call('EXISTS', key) == 0 then
    job.missing = true
  elseif size == 0 then
    job.problem = 'the job hash has no data (RQ\'s scheduler stops on such a job)'
  elseif queue_type ~= 'list' and queue_type ~= 'none' then
    job.problem = 'key ' .. KEYS[3] .. ' is a ' .. queue_type .. ', not a list'
  else
    local f = rqs_call('HMGET', key, 'status', 'timeout', 'enqueue_at_front',
      'enqueue_at_front_on_retry', 'ended_at', 'ttl', 'rate_limit_key', 'rate_limit_concurrency')
    job.status, job.timeout, job.front, job.front_on_retry = f[1], f[2], f[3], f[4]
    job.ended_at, job.ttl = f[5], f[6]
    if f[7] and f[7] ~= '' and f[8] and f[8] ~= '' and f[8] ~= '0' then
      job.problem = 'an RQ 3 rate limit (' .. f[7] .. '): rqs does not apply RQ\'s rate limits; '
        .. '`rqs quarantine release` puts it back in ' .. KEYS[1] .. ' for RQ\'s own scheduler'
    elseif job.status == 'deferred' and deferred_type ~= 'zset' and deferred_type ~= 'none' then
      job.problem = 'key ' .. deferred .. ' is a ' .. deferred_type .. ', not a zset'
    end
  end
  jobs[i] = job
end

-- Pushes and removals go out together at the end: LPUSHes only prepend and RPUSHes only
-- append, each in job order, so the list ends as if each job were pushed in turn.
local front, back, gone = {}, {}, {}
local pushed, missing, quarantined = 0, 0, 0
local function truthy(v)
  return v and v ~= '' and tonumber(v) ~= 0
end
local function chunked(command, key, items)
  for from = 1, #items, 1000 do
    rqs_call(command, key, unpack(items, from, math.min(from + 999, #items)))
  end
end
for _, job in ipairs(jobs) do
  if job.missing then
    missing = missing + 1
  elseif job.problem then
    local score = rqs_call('ZSCORE', KEYS[1], job.id)
    rqs_call('HSET', KEYS[4], job.id, cjson.encode({
      score = tonumber(score), reason = job.problem, at = tonumber(ARGV[8]),
      kind = 'wrong_type', registry = KEYS[1]}))
    quarantined = quarantined + 1
  else
    if not job.timeout or job.timeout == '' then
      rqs_call('HSET', job.key, 'status', 'queued', 'origin', ARGV[9], 'enqueued_at', ARGV[4],
        'timeout', ARGV[5])
    else
      rqs_call('HSET', job.key, 'status', 'queued', 'origin', ARGV[9], 'enqueued_at', ARGV[4])
    end
    if job.status == 'deferred' then
      rqs_call('ZREM', deferred, job.id)
    end
    local ttl = tonumber(job.ttl)
    if ttl and ttl > 0 then
      rqs_call('EXPIRE', job.key, ttl)
      rqs_call('EXPIRE', job.key .. ':dependents', ttl)
      rqs_call('EXPIRE', prefix .. ':' .. job.id .. ':dependencies', ttl)
    end
    if (truthy(job.front_on_retry) and job.ended_at and job.ended_at ~= '')
      or truthy(job.front) then
      front[#front + 1] = job.id
    else
      back[#back + 1] = job.id
    end
    pushed = pushed + 1
  end
  gone[#gone + 1] = job.id
end
chunked('LPUSH', KEYS[3], front)
chunked('RPUSH', KEYS[3], back)
chunked('ZREM', KEYS[1], gone)
return {pushed, missing, quarantined, #ids == tonumber(ARGV[3]) and 1 or 0}
