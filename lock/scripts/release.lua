-- ARGV: 1 token, 2 channel prefix. Returns 1 when released, 0 when token did
-- not hold the lock (nothing of another holder is deleted).
local now = now_ms()
prune(now)
local held = redis.call('ZREM', K_HOLDERS, ARGV[1])
if held == 1 then
  redis.call('HDEL', K_META, ARGV[1])
end
grant(now, ARGV[2])
return held
