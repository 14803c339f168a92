-- ARGV: 1 token. Returns 1 when token holds a live lease.
local s = redis.call('ZSCORE', K_HOLDERS, ARGV[1])
if s and tonumber(s) > now_ms() then return 1 end
return 0
