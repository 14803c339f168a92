-- ARGV: 1 token, 2 channel prefix. Returns 1 when released, 0 when token did
-- not hold a live lease (nothing of another holder is deleted). The fast
-- path (nobody waits) is 4 calls: HGET, TIME, HDEL, EXISTS.
local v = redis.call('HGET', K_HOLDERS, ARGV[1])
local held, now = 0, nil
if v then
  local t = redis.call('TIME')
  now = t[1] * 1000 + math.floor(t[2] / 1000)
  if tonumber(string.match(v, '^%d+')) > now then
    redis.call('HDEL', K_HOLDERS, ARGV[1])
    held = 1
  end
end
if redis.call('EXISTS', K_QUEUE) == 0 then return held end
--@prelude
now = now or now_ms()
prune(now)
grant(now, ARGV[2])
return held
