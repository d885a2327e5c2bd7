-- Puts a quarantined job back in the schedule and forgets its quarantine record, in one
-- step.
-- KEYS[1]: the schedule; KEYS[2]: the quarantine hash
-- ARGV[1]: job id; ARGV[2]: the new score, or '' for the score the record kept
-- Returns the score now in the schedule, or false when the job is not quarantined.
local record = rqs_call('HGET', KEYS[2], ARGV[1])
if not record then
  return false
end
local score = ARGV[2]
if score == '' then
  score = cjson.decode(record)['score']
end
rqs_call('ZADD', KEYS[1], score, ARGV[1])
rqs_call('HDEL', KEYS[2], ARGV[1])
return rqs_call('ZSCORE', KEYS[1], ARGV[1])
