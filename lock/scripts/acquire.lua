-- ARGV: 1 token, 2 ttl ms, 3 "limit|mode" (mode x: exclusive, s: shared),
-- 4 queue request ("" = do not queue, else "policy|max_waiters|flags|entry";
-- flags: b = the token is fresh, so the request may join a non-empty queue
-- without reading the lock), 5 holder json.
-- Returns {1, fence[, 1 when its record is the queue-granted 'x']} when the
-- token holds the lock (newly or already: idempotent), {0, position, length, pttl, holders...} when it waits
-- (position 0: not queued; pttl: time until the first lease ends, when
-- first in line, else -1; position -1: the queue is full, length is the
-- number of waiters that turned it away).
if not redis.REDIS_VERSION_NUM then
  return redis.error_reply('LOCKSTEP_OLD_SERVER lockstep needs Redis 7.0 or later (sharded pub/sub)')
end
if redis.call('EXISTS', K_H, K_Q) == 0 then
  -- Free, no fence yet, nobody waits: 4 calls. The fence starts at the
  -- server's time in microseconds (see next_fence).
  local t = redis.call('TIME')
  local dl = t[1] * 1000 + math.floor(t[2] / 1000) + ARGV[2]
  local fence = string.format('%d', t[1] * 1000000 + t[2])
  redis.call('HSET', K_H, ARGV[1], dl .. '|' .. fence .. '|' .. ARGV[3] .. '|' .. ARGV[1] .. '|' .. ARGV[5], 'f', fence)
  redis.call('PEXPIREAT', K_H, dl - 1)
  return {1, fence}
end
local queued, full = false, nil
local policy, maxw, flags, entry = '', 0, '', ''
if ARGV[4] ~= '' then
  policy, maxw, flags, entry = string.match(ARGV[4], '^(%a*)|(%d+)|(%a*)|(.*)$')
  maxw = tonumber(maxw)
  if string.find(flags, 'b', 1, true) then
    -- A fresh token behind other waiters: 1 call.
    local n = redis.call('RPUSH', K_Q, entry)
    if n > 1 then
      if maxw == 0 or n <= maxw then return {0, n, n, -1} end
      redis.call('RPOP', K_Q) -- ours: still the tail inside this script
      full = n - 1
    end
    queued = full == nil
  end
end
--@prelude
local st = load()
if full then return reply_busy(st, -1, full, -1) end
local self = nil
if queued then self = entry end
local fence = serve(st, false, self)
if not fence then
  local mine = find(st, ARGV[1])
  if mine then fence = mine.fence end
end
if fence then
  if entry ~= '' and not queued then redis.call('LREM', K_Q, 1, entry) end
  flush(st)
  local r = find(st, ARGV[1])
  if r and r.field == 'x' then return {1, fence, 1} end
  return {1, fence}
end
local limit, mode = string.match(ARGV[3], '^(%d+)|(%a)$')
limit = tonumber(limit)
if not queued then
  local n = redis.call('LLEN', K_Q)
  if n == 0 and fits(st, mode, limit) then
    fence = take(st, ARGV[1], tonumber(ARGV[2]), limit, mode, ARGV[5])
    flush(st)
    return {1, fence}
  end
  if entry == '' then
    flush(st)
    return reply_busy(st, 0, n, -1)
  end
  if policy == 'newest' and n > 0 then
    supersede(clock(st), ARGV[5])
    n = 0
  end
  if maxw > 0 and n >= maxw then
    flush(st)
    return reply_busy(st, -1, n, -1)
  end
  n = redis.call('RPUSH', K_Q, entry)
  redis.call('PEXPIRE', K_Q, QUEUE_TTL)
  flush(st)
  if n == 1 then return reply_busy(st, 1, 1, first_end(st)) end
  return reply_busy(st, n, n, -1)
end
-- Queued alone by the fast enqueue, and the lock did not fit: first in line.
redis.call('PEXPIRE', K_Q, QUEUE_TTL)
flush(st)
return reply_busy(st, 1, 1, first_end(st))
