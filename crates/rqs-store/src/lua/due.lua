-- Reads the first due jobs with their hashes in one round trip.
-- KEYS[1]: the schedule (rq:scheduler:scheduled_jobs)
-- ARGV[1]: upper score bound (inclusive); ARGV[2]: maximum number of jobs
-- Returns: { {id, score, {field, value, ...}}, ... } in (score, id) order; an empty field
-- list means the hash does not exist.
-- The lower bound is 0, as in rq-scheduler, so a negative score is never due.
local page = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for k = 1, #page, 2 do
  out[#out + 1] = { page[k], page[k + 1], redis.call('HGETALL', '{{JOB}}' .. page[k]) }
end
return out
