-- ARGV: 1 channel prefix. Drops every holder and serves the waiters.
-- Returns the number of live holders removed.
local now = now_ms()
prune(now)
local n = redis.call('HLEN', K_HOLDERS)
redis.call('DEL', K_HOLDERS)
grant(now, ARGV[1])
return n
