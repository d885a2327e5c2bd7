-- Reads due jobs with the fields a hand-off needs, in one round trip, bounded by count
-- and by bytes.
-- KEYS[1]: the schedule (rq:scheduler:scheduled_jobs)
-- ARGV[1]: upper score bound (inclusive); ARGV[2]: jobs to skip; ARGV[3]: maximum number
-- of jobs; ARGV[4]: byte budget of the reply; ARGV[5]: largest hand-off fields of one
-- job, in bytes; ARGV[6..]: the fields to read besides `data` (rqs_core::HANDOFF_FIELDS)
-- Returns: { {id, score, {field, value, ...} | false, oversized, type}, ... } in (score,
-- id) order. `false` means the hash does not exist. `data` is reported with an empty
-- value: only its presence matters, and it can be large. A job key that is not a hash is
-- reported as an empty hash with its type (`type` is '' otherwise). `oversized` is 0, or the size of fields that exceed
-- ARGV[5], which are then left out. The reply stops before the job that would take it
-- past the budget, but always holds at least one job. The lower bound is 0, as in
-- rq-scheduler, so a negative score is never due.
local fields = {}
for k = 6, #ARGV do
  fields[#fields + 1] = ARGV[k]
end
local budget = tonumber(ARGV[4])
local largest = tonumber(ARGV[5])
local page = rqs_call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'WITHSCORES', 'LIMIT', ARGV[2], ARGV[3])
local out = {}
local used = 0
for k = 1, #page, 2 do
  local key = '{{JOB}}' .. page[k]
  local found = {}
  local oversized = 0
  local other_type = ''
  local size = #page[k]
  local kind = rqs_call('TYPE', key)['ok']
  if kind == 'hash' then
    if rqs_call('HEXISTS', key, 'data') == 1 then
      found[1] = 'data'
      found[2] = ''
    end
    local values = rqs_call('HMGET', key, unpack(fields))
    local total = 0
    for f = 1, #fields do
      if values[f] then
        total = total + #values[f]
      end
    end
    if total > largest then
      oversized = total
    else
      size = size + total
      for f = 1, #fields do
        if values[f] then
          found[#found + 1] = fields[f]
          found[#found + 1] = values[f]
        end
      end
    end
  elseif kind == 'none' then
    found = false
  else
    other_type = kind
  end
  -- Not a hash (and not missing): reported as a hash without any field, so without data,
  -- which the scheduler unschedules without touching the key.
  if #out > 0 and used + size > budget then
    break
  end
  used = used + size
  out[#out + 1] = { page[k], page[k + 1], found, oversized, other_type }
end
return out
