-- ARGV: 1 token, 2 ttl ms, 3 limit, 4 holder json, 5 waiter id ("" = do not
-- queue), 6 channel prefix, 7 queue ttl ms.
-- Returns {1, fence, since, ttl_left} when token holds the lock (newly or
-- already: idempotent), else {0, pttl of the first lease to end, is_head,
-- holders...}.
local token, ttl, limit, info, id, chan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', K_HOLDERS, K_QUEUE) == 0 then -- free and nobody waits: the fast path
  local fence = redis.call('INCR', K_FENCE)
  if fence == 1 then -- a new counter: see next_fence
    fence = now * 1000
    redis.call('SET', K_FENCE, string.format('%d', fence))
  end
  redis.call('ZADD', K_HOLDERS, now + ttl, token)
  redis.call('HSET', K_META, token, string.format('%d', fence) .. '|' .. now .. '|' .. limit .. '|' .. info)
  redis.call('PEXPIRE', K_HOLDERS, ttl)
  redis.call('PEXPIRE', K_META, ttl)
  return {1, fence, now, ttl}
end
--@prelude
prune(now)
grant(now, chan)
local score = redis.call('ZSCORE', K_HOLDERS, token)
if score then
  local fence, since = split4(redis.call('HGET', K_META, token))
  if id ~= '' and redis.call('HDEL', K_WAITERS, id) == 1 then
    redis.call('LREM', K_QUEUE, 1, id)
  end
  return {1, tonumber(fence), tonumber(since), tonumber(score) - now}
end
if redis.call('ZCARD', K_HOLDERS) < limit and redis.call('LLEN', K_QUEUE) == 0 then
  local fence = next_fence(now)
  take(token, ttl, limit, info, fence, now)
  return {1, fence, now, ttl}
end
local head = 0
if id ~= '' then
  if redis.call('HSETNX', K_WAITERS, id, token .. '|' .. ttl .. '|' .. limit .. '|' .. info) == 1 then
    redis.call('RPUSH', K_QUEUE, id)
  end
  redis.call('PEXPIRE', K_QUEUE, ARGV[7])
  redis.call('PEXPIRE', K_WAITERS, ARGV[7])
  if redis.call('LINDEX', K_QUEUE, 0) == id then head = 1 end
end
local first = redis.call('ZRANGE', K_HOLDERS, 0, 0, 'WITHSCORES')
local pttl = -1
if #first == 2 then pttl = tonumber(first[2]) - now end
local out = {0, pttl, head}
for _, h in ipairs(holders_info(now)) do out[#out + 1] = h end
return out
