-- Reads instance records; a key that is not a hash reads as an empty record.
-- KEYS: rq:scheduler_instance:<name> keys
-- Returns one flat field/value list per key, in order.
local out = {}
for k = 1, #KEYS do
  if rqs_call('TYPE', KEYS[k])['ok'] == 'hash' then
    out[k] = rqs_call('HGETALL', KEYS[k])
  else
    out[k] = {}
  end
end
return out
