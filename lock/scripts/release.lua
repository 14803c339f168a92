-- ARGV: 1 token, 2 channel prefix. Returns 1 when released, 0 when token did
-- not hold a live lease (nothing of another holder is deleted).
-- Fast path, the token is the only holder and nobody waits: HGETALL, HDEL,
-- EXISTS. The key expires exactly when its last lease ends (see extend), so
-- a lone record that is still there is a live lease: no TIME needed.
local token = ARGV[1]
local all = redis.call('HGETALL', K_HOLDERS)
local held = 0
if #all == 2 and all[1] == token then
  redis.call('HDEL', K_HOLDERS, token) -- the last field: the key goes too
  held = 1
elseif #all > 0 then
  held = -1 -- other holders: decided below against the token's deadline
end
if held >= 0 and redis.call('EXISTS', K_QUEUE) == 0 then return held end
--@prelude
local now = now_ms()
if held == -1 then
  held = 0
  for i = 1, #all, 2 do
    if all[i] == token then
      if deadline(all[i + 1]) > now then
        redis.call('HDEL', K_HOLDERS, token)
        extend(now) -- the last deadline may have been this one
        held = 1
      end
      break
    end
  end
  if redis.call('EXISTS', K_QUEUE) == 0 then return held end
end
prune(now)
grant(now, ARGV[2])
return held
