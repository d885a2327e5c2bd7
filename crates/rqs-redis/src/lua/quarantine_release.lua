-- Puts a quarantined job back in the schedule (or the RQ registry it came from) and forgets its quarantine record, in one
-- step.
-- KEYS[1]: the schedule; KEYS[2]: the quarantine hash
-- ARGV[1]: job id; ARGV[2]: the new score, or '' for the score the record kept
-- Returns the score now in the schedule, or false when the job is not quarantined.
local record = rqs_call('HGET', KEYS[2], ARGV[1])
if not record then
  return false
end
local kept = cjson.decode(record)
local score = ARGV[2]
if score == '' then
  score = kept['score']
end
-- A job set aside from one of RQ's own registries goes back there.
local target = KEYS[1]
local registry = kept['registry']
if type(registry) == 'string' and string.sub(registry, 1, 13) == 'rq:scheduled:' then
  target = registry
end
rqs_call('ZADD', target, score, ARGV[1])
rqs_call('HDEL', KEYS[2], ARGV[1])
return rqs_call('ZSCORE', target, ARGV[1])
