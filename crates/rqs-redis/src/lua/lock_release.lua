-- Deletes the lock only for its owner (rq-scheduler's blind DEL could free a lock that
-- another instance took after ours expired).
-- KEYS[1]: the lock key; ARGV[1]: owner token
-- Returns 1 when released, 0 when the lock is absent or held by someone else.
if rqs_call('GET', KEYS[1]) == ARGV[1] then
  rqs_call('DEL', KEYS[1])
  return 1
end
return 0
