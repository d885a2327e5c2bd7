-- Prelude of every rqs script. rqs_call(command, key, ...) is redis.call, except that a
-- command the ACL refuses fails with an error naming the command and its key (Redis's own
-- message names neither). Any other error is raised unchanged, keeping its code (OOM,
-- READONLY, WRONGTYPE...), so the script stops exactly where redis.call would stop it.
local function rqs_call(...)
  local reply = redis.pcall(...)
  if type(reply) == 'table' and reply.err then
    local err = reply.err
    if string.find(err, 'NOPERM', 1, true) == 1
      or string.find(err, "script can't access", 1, true)
      or string.find(err, "script can't run", 1, true) then
      local command, key = ...
      error({ err = 'NOPERM the ACL refuses ' .. string.upper(tostring(command))
        .. ' on key ' .. tostring(key) .. ': ' .. err })
    end
    error(reply)
  end
  return reply
end
