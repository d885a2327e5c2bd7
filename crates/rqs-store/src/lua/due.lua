-- Reads the first due jobs with the fields a hand-off needs, in one round trip.
-- KEYS[1]: the schedule (rq:scheduler:scheduled_jobs)
-- ARGV[1]: upper score bound (inclusive); ARGV[2]: maximum number of jobs;
-- ARGV[3..]: the fields to read besides `data` (rqs_core::HANDOFF_FIELDS)
-- Returns: { {id, score, {field, value, ...} | false}, ... } in (score, id) order.
-- `false` means the hash does not exist. `data` is reported with an empty value: only its
-- presence matters, and it can be large. A job key that is not a hash is reported as an
-- empty hash. The lower bound is 0, as in rq-scheduler, so a negative score is never due.
local fields = {}
for k = 3, #ARGV do
  fields[#fields + 1] = ARGV[k]
end
local page = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for k = 1, #page, 2 do
  local key = '{{JOB}}' .. page[k]
  local found = {}
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then
    if redis.call('HEXISTS', key, 'data') == 1 then
      found[1] = 'data'
      found[2] = ''
    end
    local values = redis.call('HMGET', key, unpack(fields))
    for f = 1, #fields do
      if values[f] then
        found[#found + 1] = fields[f]
        found[#found + 1] = values[f]
      end
    end
    out[#out + 1] = { page[k], page[k + 1], found }
  elseif kind ~= 'none' then
    -- Not a hash: reported as a hash without any field (so without data), which the
    -- scheduler unschedules without touching the key.
    out[#out + 1] = { page[k], page[k + 1], found }
  else
    out[#out + 1] = { page[k], page[k + 1], false }
  end
end
return out
