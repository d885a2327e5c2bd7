-- Releases RQ's per-queue scheduler locks that are ours.
-- KEYS: the lock keys; ARGV[1]: our token
for _, key in ipairs(KEYS) do
  if rqs_call('GET', key) == ARGV[1] then
    rqs_call('DEL', key)
  end
end
return nil
