-- Helpers shared by the lock scripts, inserted where a script says
-- "--@prelude" (after its fast path, so that the fast path does not pay
-- for creating these closures), else at its top.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- deadline reads the lease deadline (server ms) of a holder record.
local function deadline(v)
  return tonumber(string.match(v, '^%d+'))
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
  local all = redis.call('HGETALL', K_HOLDERS)
  local dead = {}
  for i = 1, #all, 2 do
    if deadline(all[i + 1]) <= now then dead[#dead + 1] = all[i] end
  end
  if #dead > 0 then
    redis.call('HDEL', K_HOLDERS, unpack(dead))
  end
end

-- extend sets the holders key to expire exactly when the last lease ends:
-- PEXPIREAT last deadline - 1 (a key lives while now <= its expiry, a lease
-- while now < its deadline). Every script that adds, renews or removes a
-- record keeps this so, which lets release trust a lone record whose key is
-- still there without reading TIME.
local function extend(now)
  local last
  for _, v in ipairs(redis.call('HVALS', K_HOLDERS)) do
    local d = deadline(v)
    if not last or d > last then last = d end
  end
  if last then redis.call('PEXPIREAT', K_HOLDERS, last - 1) end
end

-- first_end is the time until the first live lease ends, -1 when none.
local function first_end(now)
  local first
  for _, v in ipairs(redis.call('HVALS', K_HOLDERS)) do
    local d = deadline(v)
    if d > now and (not first or d < first) then first = d end
  end
  if first then return first - now end
  return -1
end

local function take(token, ttl, limit, info, fence, now)
  redis.call('HSET', K_HOLDERS, token, string.format('%d|%d|%d|', now + ttl, fence, now) .. limit .. '|' .. info)
  extend(now)
end

local function split4(s)
  local a, b, c, d = string.match(s, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
  return a, b, c, d
end

-- grant hands free capacity to the queue's head, in order. The head learns
-- by a PUBLISH on its own channel; no receiver means the waiter is dead, so
-- it is dropped (its fence number is burnt) and the next one is tried. When
-- it granted something, or when notify says the head changed, it tells the
-- new head it is first in line ('head'), so that it schedules a wake-up at
-- the first lease's end (a crashed holder); a dead new head is dropped the
-- same way.
local function grant(now, chan, notify)
  local granted = notify == true
  while true do
    local id = redis.call('LINDEX', K_QUEUE, 0)
    if not id then return end
    local w = redis.call('HGET', K_WAITERS, id)
    if w then
      local token, ttl, limit, info = split4(w)
      if redis.call('HLEN', K_HOLDERS) >= tonumber(limit) then
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

-- holders_info lists the live holders, by deadline, as
-- "ttl_ms|fence|since|limit|json"; tokens never leave the server.
local function holders_info(now)
  local live = {}
  local all = redis.call('HGETALL', K_HOLDERS)
  for i = 1, #all, 2 do
    local d, rest = string.match(all[i + 1], '^(%d+)(|.*)$')
    d = tonumber(d)
    if d > now then live[#live + 1] = {d, all[i], (d - now) .. rest} end
  end
  table.sort(live, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local out = {}
  for i, h in ipairs(live) do out[i] = h[3] end
  return out
end
