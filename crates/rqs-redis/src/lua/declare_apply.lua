-- Applies a schedule set's plan (rqs apply) in one step: every job must still be as the
-- plan saw it, else nothing is written.
-- KEYS[1]: the schedule; KEYS[2]: the set's record; KEYS[3]: the owners hash
-- ARGV[1]: the set's name; ARGV[2]: prefix of set records; then one record per job:
--   id, record seen, owner seen, scheduled seen ('1'/'0'), meta seen,
--   action ('put'/'remove'), new record, score ('' keeps the score),
--   n, n field/value pairs, m, m fields to delete
-- A "seen" value is '-' for absent, '=' .. value for present; a meta seen of '' is not
-- checked.
-- Returns {'ok', jobs} or {'changed', id, what}.
local set, set_prefix = ARGV[1], ARGV[2]
local ops = {}
local i = 3
while i <= #ARGV do
  local op = {id = ARGV[i], record = ARGV[i + 1], owner = ARGV[i + 2],
    scheduled = ARGV[i + 3], meta = ARGV[i + 4], action = ARGV[i + 5],
    json = ARGV[i + 6], score = ARGV[i + 7]}
  i = i + 8
  local n = tonumber(ARGV[i])
  op.fields = {}
  for j = 1, 2 * n do op.fields[j] = ARGV[i + j] end
  i = i + 2 * n + 1
  local m = tonumber(ARGV[i])
  op.drop = {}
  for j = 1, m do op.drop[j] = ARGV[i + j] end
  i = i + m + 1
  ops[#ops + 1] = op
end

local function seen(value)
  if value then return '=' .. value end
  return '-'
end

-- Every check first: a failed redis.call after a write would leave half a plan.
for _, op in ipairs(ops) do
  local job = '{{JOB}}' .. op.id
  if seen(rqs_call('HGET', KEYS[2], op.id)) ~= op.record then
    return {'changed', op.id, 'its record in the set'}
  end
  if seen(rqs_call('HGET', KEYS[3], op.id)) ~= op.owner then
    return {'changed', op.id, 'the set that owns it'}
  end
  local scheduled = rqs_call('ZSCORE', KEYS[1], op.id) and '1' or '0'
  if scheduled ~= op.scheduled then
    return {'changed', op.id, 'whether it is scheduled'}
  end
  local kind = rqs_call('TYPE', job)['ok']
  if kind ~= 'hash' and kind ~= 'none' then
    return {'changed', op.id, job .. ' is a ' .. kind .. ', not a hash'}
  end
  if op.meta ~= '' and seen(rqs_call('HGET', job, 'meta')) ~= op.meta then
    return {'changed', op.id, 'its meta'}
  end
end

for _, op in ipairs(ops) do
  local job = '{{JOB}}' .. op.id
  if op.action == 'remove' then
    rqs_call('ZREM', KEYS[1], op.id)
    rqs_call('HDEL', KEYS[2], op.id)
    rqs_call('HDEL', KEYS[3], op.id)
  else
    if #op.fields > 0 then rqs_call('HSET', job, unpack(op.fields)) end
    if #op.drop > 0 then rqs_call('HDEL', job, unpack(op.drop)) end
    if op.score ~= '' then rqs_call('ZADD', KEYS[1], op.score, op.id) end
    local owner = string.sub(op.owner, 2)
    if op.owner ~= '-' and owner ~= set then
      rqs_call('HDEL', set_prefix .. owner, op.id)
    end
    rqs_call('HSET', KEYS[2], op.id, op.json)
    rqs_call('HSET', KEYS[3], op.id, set)
  end
end
return {'ok', #ops}
