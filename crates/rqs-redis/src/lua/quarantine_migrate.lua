-- Moves the quarantine of rqs before 0.2 (rqs:quarantine, outside RQ's key space) to its
-- key under rq:, once; records already at the new key win.
-- KEYS[1]: the old hash; KEYS[2]: the new hash
-- Returns the number of records moved.
local target = rqs_call('TYPE', KEYS[2])['ok']
if rqs_call('TYPE', KEYS[1])['ok'] ~= 'hash' or (target ~= 'none' and target ~= 'hash') then
  return 0
end
local old = rqs_call('HGETALL', KEYS[1])
local moved = 0
for k = 1, #old, 2 do
  moved = moved + rqs_call('HSETNX', KEYS[2], old[k], old[k + 1])
end
rqs_call('DEL', KEYS[1])
return moved
