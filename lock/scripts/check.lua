-- ARGV: 1 token. Returns 1 when token holds a live lease.
local v = redis.call('HGET', K_HOLDERS, ARGV[1])
if v and deadline(v) > now_ms() then return 1 end
return 0
