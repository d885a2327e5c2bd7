-- Applies a batch of hand-offs atomically: each job's queue push, hash fields and schedule
-- change happen together or not at all, and only if the job still has the score it was
-- read with (a client that cancels or reschedules in between wins).
-- KEYS[1]: the schedule (rq:scheduler:scheduled_jobs); KEYS[2]: the quarantine hash;
-- KEYS[3]: the pauses (rq:rqs:paused): an enqueue of a paused queue's job is left alone
-- ('paused'), so a pause that lands while a batch is on its way holds it.
-- ARGV[1]: number of hand-offs; then per hand-off:
--   id, read score, kind ('E' enqueue | 'U' unschedule | 'Q' quarantine), n, then n args:
--   U: none
--   Q: the quarantine record (JSON)
--   E: meta mode ('-' | 'A' | 'E'): '-' leaves the meta alone; otherwise the stored meta
--      must be absent ('A') or equal to the next argument ('E'); then comes the new meta.
--      Then the next score ('' = leave the schedule) and the enqueue record (see the
--      fragment).
-- Returns one outcome name per hand-off: pushed, deferred, unscheduled, quarantined, stale,
-- meta_changed, vanished, held or paused. A job whose keys have the wrong type for its hand-off is
-- quarantined here, with the reason. If the schedule or rq:queues itself has the wrong
-- type, the script fails before writing anything (RQS_REJECTED). A quarantine hash of the
-- wrong type stops only the jobs that need it: they are held (left in the schedule,
-- untouched) and the others move.
local schedule = KEYS[1]
local types = {}
local shared_problem = rqs_wrong_type(types, schedule, 'zset')
  or rqs_wrong_type(types, '{{QUEUES}}', 'set')
if shared_problem then
  return redis.error_reply('RQS_REJECTED ' .. shared_problem)
end
local quarantine_ok = not rqs_wrong_type(types, KEYS[2], 'hash')

local results = {}
local pending = rqs_pending()
local unscheduled = {}
local seen = {}
local now = tonumber(rqs_call('TIME')[1])
local paused = rqs_paused(KEYS[3], now)

local function quarantine(id, record)
  if not quarantine_ok then
    return 'held'
  end
  unscheduled[#unscheduled + 1] = id
  rqs_call('HSET', KEYS[2], id, record)
  return 'quarantined'
end

local i = 2
for n = 1, tonumber(ARGV[1]) do
  local id = ARGV[i]
  local read = tonumber(ARGV[i + 1])
  local kind = ARGV[i + 2]
  local len = tonumber(ARGV[i + 3])
  local j = i + 4
  i = j + len
  -- Removals are applied at the end, so `seen` is what makes a second hand-off of the
  -- same id in one batch stale, as it would be after an immediate ZREM.
  local current = rqs_call('ZSCORE', schedule, id)
  if seen[id] or not current or tonumber(current) ~= read then
    results[n] = 'stale'
  elseif kind == 'U' then
    unscheduled[#unscheduled + 1] = id
    results[n] = 'unscheduled'
  elseif kind == 'Q' then
    results[n] = quarantine(id, ARGV[j])
  else
    local mode = ARGV[j]
    local expected, new_meta
    j = j + 1
    if mode == 'E' then
      expected = ARGV[j]
      j = j + 1
    end
    if mode ~= '-' then
      new_meta = ARGV[j]
      j = j + 1
    end
    local next_score = ARGV[j]
    local e = rqs_read(j + 1)
    if paused and (paused['*'] or paused[e.queue]) then
      results[n] = 'paused'
    elseif rqs_type(types, e.job_key) == 'none' then
      unscheduled[#unscheduled + 1] = id
      results[n] = 'vanished'
    else
      local problem = rqs_check(e, types)
      if problem then
        local record = cjson.encode({ score = read, kind = 'wrong_type', reason = problem, at = now })
        results[n] = quarantine(id, record)
      else
        local meta_ok = true
        if mode ~= '-' then
          local stored = rqs_call('HGET', e.job_key, 'meta')
          if mode == 'A' then
            meta_ok = stored == false
          else
            meta_ok = stored == expected
          end
        end
        if not meta_ok then
          results[n] = 'meta_changed'
        else
          if mode ~= '-' then
            rqs_call('HSET', e.job_key, 'meta', new_meta)
          end
          results[n] = rqs_apply(e, pending)
          if next_score == '' then
            unscheduled[#unscheduled + 1] = id
          else
            rqs_call('ZADD', schedule, next_score, id)
          end
        end
      end
    end
  end
  local r = results[n]
  if r ~= 'stale' and r ~= 'meta_changed' and r ~= 'held' and r ~= 'paused' then
    seen[id] = true
  end
end

-- Each id is handled once per batch (see `seen`), so removing them all at the end is the
-- same as removing each in turn.
if #unscheduled > 0 then
  rqs_call_chunked('ZREM', schedule, unscheduled)
end
rqs_flush(pending)
return results
