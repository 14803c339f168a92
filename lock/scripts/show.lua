-- ARGV: 1 'q' to list the queue. Returns {waiters, holders count,
-- holders..., queue...}: holders as "ttl_left|fence|limit|mode|json", queue
-- entries in order as "mode|limit|queued_ms|policy|json" (policy f or n). Tokens never leave the
-- server. Writes nothing.
local st = load()
local hs = holders(st)
local out = {0, #hs}
for _, h in ipairs(hs) do out[#out + 1] = h end
if ARGV[1] == 'q' then
  local all = redis.call('LRANGE', K_Q, 0, -1)
  out[1] = #all
  for _, e in ipairs(all) do
    local w = parse_entry(e)
    if w then
      local q = 'f'
      if w.newest then q = 'n' end
      out[#out + 1] = w.mode .. '|' .. w.limit .. '|' .. w.since .. '|' .. q .. '|' .. string.sub(e, w.at)
    end
  end
else
  out[1] = redis.call('LLEN', K_Q)
end
return out
