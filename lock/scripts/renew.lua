-- ARGV: 1 token, 2 ttl ms. Extends a live lease; never re-creates one.
local now = now_ms()
prune(now)
local v = redis.call('HGET', K_HOLDERS, ARGV[1])
if not v then return 0 end
redis.call('HSET', K_HOLDERS, ARGV[1], string.format('%d', now + tonumber(ARGV[2])) .. string.match(v, '^%d+(|.*)$'))
extend(now)
return 1
