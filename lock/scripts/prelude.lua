-- Helpers shared by the lock scripts, inserted where a script says
-- "--@prelude" (after its fast path, so that the fast path does not pay
-- for creating these closures), else at its top.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- next_fence increments the fencing counter. A missing counter (a new key,
-- or one Redis lost) starts at the server's time in ms x 1000, so fences keep
-- growing across data loss while clocks move forward and a key is taken
-- fewer than 1000 times a millisecond.
local function next_fence(now)
  local f = redis.call('INCR', K_FENCE)
  if f == 1 then
    f = now * 1000
    redis.call('SET', K_FENCE, string.format('%d', f))
  end
  return f
end

-- prune forgets holders whose lease ran out.
local function prune(now)
  local dead = redis.call('ZRANGEBYSCORE', K_HOLDERS, '-inf', now)
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', K_HOLDERS, '-inf', now)
    redis.call('HDEL', K_META, unpack(dead))
  end
end

-- extend keeps the holder keys alive until the last lease ends.
local function extend(now)
  local top = redis.call('ZRANGE', K_HOLDERS, -1, -1, 'WITHSCORES')
  if #top == 2 then
    local ms = tonumber(top[2]) - now
    redis.call('PEXPIRE', K_HOLDERS, ms)
    redis.call('PEXPIRE', K_META, ms)
  end
end

local function take(token, ttl, limit, info, fence, now)
  redis.call('ZADD', K_HOLDERS, now + ttl, token)
  redis.call('HSET', K_META, token, string.format('%d', fence) .. '|' .. now .. '|' .. limit .. '|' .. info)
  extend(now)
end

local function split4(s)
  local a, b, c, d = string.match(s, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return a, b, c, d
end

-- grant hands free capacity to the queue's head, in order. The head learns
-- by a PUBLISH on its own channel; no receiver means the waiter is dead, so
-- it is dropped (its fence number is burnt) and the next one is tried. When
-- it granted something, it tells the new head it is first in line ('head'),
-- so that it schedules a wake-up at the first lease's end (a crashed
-- holder); a dead new head is dropped the same way.
local function grant(now, chan)
  local granted = false
  while true do
    local id = redis.call('LINDEX', K_QUEUE, 0)
    if not id then return end
    local w = redis.call('HGET', K_WAITERS, id)
    if w then
      local token, ttl, limit, info = split4(w)
      if redis.call('ZCARD', K_HOLDERS) >= tonumber(limit) then
        if not granted or redis.call('SPUBLISH', chan .. id, 'head') > 0 then return end
      else
        local fence = next_fence(now)
        if redis.call('SPUBLISH', chan .. id, string.format('%d', fence) .. '|' .. now) > 0 then
          take(token, tonumber(ttl), limit, info, fence, now)
          granted = true
        end
      end
      redis.call('HDEL', K_WAITERS, id)
    end
    redis.call('LPOP', K_QUEUE)
  end
end

-- holders_info lists the live holders as "fence|since|limit|json" plus
-- "|ttl_ms" appended; tokens never leave the server.
local function holders_info(now)
  local out = {}
  local hs = redis.call('ZRANGE', K_HOLDERS, 0, -1, 'WITHSCORES')
  for i = 1, #hs, 2 do
    local left = tonumber(hs[i + 1]) - now
    if left > 0 then
      local m = redis.call('HGET', K_META, hs[i])
      if m then out[#out + 1] = left .. '|' .. m end
    end
  end
  return out
end
