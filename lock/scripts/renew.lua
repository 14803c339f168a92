-- ARGV: 1 token, 2 ttl ms. Extends a live lease; never re-creates one.
local now = now_ms()
prune(now)
if not redis.call('ZSCORE', K_HOLDERS, ARGV[1]) then return 0 end
redis.call('ZADD', K_HOLDERS, 'XX', now + tonumber(ARGV[2]), ARGV[1])
extend(now)
return 1
