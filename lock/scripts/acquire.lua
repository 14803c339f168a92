-- ARGV: 1 token, 2 ttl ms, 3 "limit|mode" (mode x: exclusive, s: shared),
-- 4 queue request ("" = do not queue, else "policy|max_waiters|flags|entry";
-- flags: b = the token is fresh, so the request may join a non-empty queue
-- without reading the lock), 5 holder json.
-- Returns the fence (an integer) when the lock was free and is now the
-- token's, {1, fence[, 1 when its record is the queue-granted 'x']} when the
-- token holds the lock otherwise (newly or already: idempotent), and
-- {0, position, length, pttl, fits, holders...} when it waits (position 0:
-- not queued; pttl: time until the first lease ends, when first in line,
-- else -1; fits: 1 when only the queue keeps it waiting; position -1: the
-- queue is full, length is the number of waiters that turned it away). The
-- fast enqueue answers {0, position, length, -1}.
if not redis.REDIS_VERSION_NUM then
  return redis.error_reply('LOCKSTEP_OLD_SERVER lockstep needs Redis 7.0 or later (sharded pub/sub)')
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
local n, last = 1, nil
if not queued then n = redis.call('EXISTS', K_H, K_Q) end
if n == 1 and not queued then
  -- Held, queued, or free with the fence of its last lease kept.
  local v = redis.call('HGETALL', K_H)
  if #v == 2 and v[1] == 'f' and redis.call('EXISTS', K_Q) == 0 then
    n, last = 0, tonumber(v[2])
  end
end
if n == 0 then
  -- Free and nobody waits: 4 calls (6 with a kept fence), and as little
  -- Lua as can be. The fence is the server's time in µs, or the last one
  -- + 1 (see next_fence); the key expires at the lease's deadline - 1 ms.
  local t = redis.call('TIME')
  local fence = t[1] * 1000000 + t[2]
  if last and last >= fence then fence = last + 1 end
  local dl = t[1] * 1000 + math.floor(t[2] / 1000) + ARGV[2]
  redis.call('HSET', K_H, ARGV[1], dl .. '|' .. string.format('%d', fence) .. '|' .. ARGV[3] .. '|' ..
    ARGV[1] .. '|' .. ARGV[5], 'f', fence)
  redis.call('PEXPIREAT', K_H, dl - 1) -- absolute: a relative expiry would count from a later clock reading
  return fence
end
--@prelude
local st = load()
if full then return reply_busy(st, -1, full, -1, false) end
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
local fit = fits(st, mode, limit)
if not queued then
  local n = redis.call('LLEN', K_Q)
  if n == 0 and fits(st, mode, limit) then
    fence = take(st, ARGV[1], tonumber(ARGV[2]), limit, mode, ARGV[5])
    flush(st)
    return {1, fence}
  end
  if entry == '' then
    flush(st)
    return reply_busy(st, 0, n, -1, fit)
  end
  if policy == 'newest' and n > 0 then
    if maxw > 0 then
      local left = staying()
      if left >= maxw then
        flush(st)
        return reply_busy(st, -1, left, -1, fit)
      end
    end
    n = supersede(clock(st), ARGV[5])
  end
  if maxw > 0 and n >= maxw then
    flush(st)
    return reply_busy(st, -1, n, -1, fit)
  end
  n = redis.call('RPUSH', K_Q, entry)
  redis.call('PEXPIRE', K_Q, QUEUE_TTL)
  flush(st)
  if n == 1 then return reply_busy(st, 1, 1, first_end(st), fit) end
  return reply_busy(st, n, n, -1, fit)
end
-- Queued alone by the fast enqueue, and the lock did not fit: first in line.
redis.call('PEXPIRE', K_Q, QUEUE_TTL)
flush(st)
return reply_busy(st, 1, 1, first_end(st), fit)
