-- ARGV: 1 token, 2 channel prefix. Returns 1 when released, 0 when token did
-- not hold a live lease (nothing of another holder is deleted).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', K_HOLDERS, ARGV[1])
local held = 0
if score and tonumber(score) > now then
  redis.call('ZREM', K_HOLDERS, ARGV[1])
  redis.call('HDEL', K_META, ARGV[1])
  held = 1
end
if redis.call('EXISTS', K_QUEUE) == 0 then return held end
--@prelude
prune(now)
grant(now, ARGV[2])
return held
