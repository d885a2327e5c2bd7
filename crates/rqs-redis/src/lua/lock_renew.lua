-- Extends the lock only for its owner.
-- KEYS[1]: the lock key; ARGV[1]: owner token; ARGV[2]: new time to live in milliseconds
-- Returns 1 when renewed, 0 when the lock is absent or held by someone else.
if rqs_call('GET', KEYS[1]) == ARGV[1] then
  rqs_call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
