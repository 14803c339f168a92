-- Helpers shared by the lock scripts, inserted where a script says
-- "--@prelude" (after its fast path, which so pays nothing for them), else
-- at its top.
local QUEUE_TTL = 600000 -- ms an abandoned queue survives; waiters refresh it

-- clock reads the server's time once per script: ms and µs since the epoch.
local function clock(st)
  if not st.now then
    local t = redis.call('TIME')
    st.now = t[1] * 1000 + math.floor(t[2] / 1000)
    st.us = t[1] * 1000000 + t[2]
  end
  return st.now
end

-- record parses a holder record; its json stays in raw, from r.at.
local function record(field, v)
  local dl, fence, limit, mode, tok, at = string.match(v, '^(%d+)|(%d+)|(%d+)|(%a)|([^|]*)|()')
  if not dl then return nil end
  return {field = field, dl = tonumber(dl), fence = fence, limit = tonumber(limit), mode = mode, tok = tok, raw = v, at = at}
end

local function json_of(r)
  return string.sub(r.raw, r.at)
end

-- parse_entry parses a queue entry; its json stays in raw, from w.at. The
-- mode letter is upper case for a newest-wins waiter.
local function parse_entry(e)
  local bid, wid, tok, ttl, limit, mode, since, at = string.match(e, '^([^:|]*):([^|]*)|([^|]*)|(%d+)|(%d+)|(%a)|(%d*)|()')
  if not bid then return nil end
  local lower = string.lower(mode)
  return {bid = bid, wid = wid, tok = tok, ttl = tonumber(ttl), limit = tonumber(limit), mode = lower,
    newest = lower ~= mode, since = since, raw = e, at = at}
end

-- load reads the holders. A lone record is live: the key expires exactly
-- when the last lease ends (every script keeps it so), so its presence
-- proves it. With several, the expired ones are dropped (server time).
local function load()
  local st = {recs = {}, n = 0, set = {}, del = {}, maxdl = 0}
  local all = redis.call('HGETALL', K_H)
  for i = 1, #all, 2 do
    if all[i] == 'f' then
      st.f = tonumber(all[i + 1])
    else
      local r = record(all[i], all[i + 1])
      if r then
        st.recs[all[i]] = r
        st.n = st.n + 1
        if r.dl > st.maxdl then st.maxdl = r.dl end
      end
    end
  end
  st.maxdl0 = st.maxdl
  if st.n > 1 then
    local now = clock(st)
    for field, r in pairs(st.recs) do
      if r.dl <= now then
        st.recs[field] = nil
        st.n = st.n - 1
        st.del[field] = true
      end
    end
  end
  return st
end

local function find(st, tok)
  local r = st.recs[tok]
  if r then return r end
  r = st.recs.x
  if r and r.tok == tok then return r end
  return nil
end

local function drop(st, r)
  st.recs[r.field] = nil
  st.n = st.n - 1
  st.set[r.field] = nil
  st.del[r.field] = true
end

-- fits: a shared request joins shared holders; an exclusive one with limit
-- L joins fewer than L exclusive holders.
local function fits(st, mode, limit)
  for _, r in pairs(st.recs) do
    if r.mode ~= mode then return false end
  end
  return mode == 's' or st.n < limit
end

-- next_fence: above the last fence of the key and at least the server's
-- time in µs. A key whose holders hash expired (its fence with it) starts
-- again at the time, which every earlier fence is below as long as the
-- clock moves forward and the key sees under one acquisition per µs.
local function next_fence(st)
  clock(st)
  local f = st.us
  if st.f and st.f + 1 > f then f = st.f + 1 end
  return f
end

local function add(st, field, tok, ttl, limit, mode, json, fence)
  local dl = clock(st) + ttl
  local fs = string.format('%d', fence)
  local head = dl .. '|' .. fs .. '|' .. limit .. '|' .. mode .. '|' .. tok .. '|'
  local raw = head .. json
  st.recs[field] = {field = field, dl = dl, fence = fs, limit = limit, mode = mode, tok = tok, raw = raw, at = #head + 1}
  st.n = st.n + 1
  st.set[field] = raw
  st.del[field] = nil
  st.f = fence
  st.fset = true
  return fs
end

-- take gives the requester a lease under its token.
local function take(st, tok, ttl, limit, mode, json)
  return add(st, tok, tok, ttl, limit, mode, json, next_fence(st))
end

local function channel(w)
  return string.sub(K_H, 1, -2) .. 'w:' .. w.bid
end

-- first_end is the time until the first live lease ends, -1 when none.
local function first_end(st)
  local first
  for _, r in pairs(st.recs) do
    if not first or r.dl < first then first = r.dl end
  end
  if not first then return -1 end
  return math.max(first - clock(st), 0)
end

-- serve hands free capacity to the queue's head, in order, and tells a new
-- head that it is first in line ("h", with the time until the first lease
-- ends, so that it wakes then if the holder crashed). A waiter learns of its
-- grant by an SPUBLISH on its backend's channel; no receiver means that
-- backend is gone: the entry is dropped (its fence unused) and the next one
-- tried. self is the calling waiter's entry: it is granted (or told it is
-- first) through the reply. Returns self's fence when self was granted.
local function serve(st, notify, self)
  local changed, mine = notify, nil
  while true do
    local e, w
    if st.n == 0 then
      e = redis.call('LPOP', K_Q)
      if not e then return mine end
      w = parse_entry(e)
    else
      e = redis.call('LINDEX', K_Q, 0)
      if not e then return mine end
      w = parse_entry(e)
      if w and fits(st, w.mode, w.limit) then
        redis.call('LPOP', K_Q)
      elseif not w then
        redis.call('LPOP', K_Q) -- unreadable: drop
      elseif not changed or e == self then
        return mine
      elseif redis.call('SPUBLISH', channel(w), 'h|' .. w.wid .. '|' .. first_end(st)) > 0 then
        return mine
      else
        redis.call('LPOP', K_Q) -- a dead head: drop it, look again
        w = nil
      end
    end
    if w then
      local fence = next_fence(st)
      local field = w.tok
      if w.mode == 'x' and w.limit == 1 and not st.recs.x then field = 'x' end
      if e == self then
        mine = add(st, field, w.tok, w.ttl, w.limit, w.mode, string.sub(e, w.at), fence)
        changed = true
      elseif redis.call('SPUBLISH', channel(w), 'g|' .. w.wid .. '|' .. string.format('%d', fence)) > 0 then
        add(st, field, w.tok, w.ttl, w.limit, w.mode, string.sub(e, w.at), fence)
        changed = true
      end
    end
  end
end

-- supersede ends every queued newest-wins waiter: a newer arrival replaces
-- them ('s' carries when and who). Waiters that queued FIFO keep their
-- place. Returns how many waiters are left.
-- staying counts the queue's entries a newest-wins arrival leaves in place
-- (those that queued FIFO): its queue-full check comes before it
-- supersedes anyone, so that an arrival turned away supersedes nobody.
local function staying()
  local n = 0
  for _, e in ipairs(redis.call('LRANGE', K_Q, 0, -1)) do
    local w = parse_entry(e)
    if not (w and w.newest) then n = n + 1 end
  end
  return n
end

local function supersede(now, json)
  local all = redis.call('LRANGE', K_Q, 0, -1)
  local left = #all
  for _, e in ipairs(all) do
    local w = parse_entry(e)
    if w and w.newest then
      redis.call('SPUBLISH', channel(w), 's|' .. w.wid .. '|' .. now .. '|' .. json)
      redis.call('LREM', K_Q, 1, e)
      left = left - 1
    end
  end
  return left
end

-- flush writes what the script changed: one HDEL, one HSET (records and
-- the fence), and the key's expiry moved to the last deadline - 1 ms (a key
-- lives while now <= its expiry, a lease while now < its deadline).
local function flush(st)
  local dels, sets = {}, {}
  for field in pairs(st.del) do dels[#dels + 1] = field end
  for field, v in pairs(st.set) do
    sets[#sets + 1] = field
    sets[#sets + 1] = v
  end
  if st.fset then
    sets[#sets + 1] = 'f'
    sets[#sets + 1] = string.format('%d', st.f)
  end
  if #dels > 0 then redis.call('HDEL', K_H, unpack(dels)) end
  if #sets > 0 then redis.call('HSET', K_H, unpack(sets)) end
  local last = 0
  for _, r in pairs(st.recs) do
    if r.dl > last then last = r.dl end
  end
  if last > 0 and last ~= st.maxdl0 then redis.call('PEXPIREAT', K_H, last - 1) end
  st.del, st.set, st.fset, st.maxdl0 = {}, {}, false, last
end

-- holders lists the live holders by deadline as
-- "ttl_left|fence|limit|mode|json"; tokens never leave the server.
local function holders(st)
  local now = clock(st)
  local live = {}
  for _, r in pairs(st.recs) do live[#live + 1] = r end
  table.sort(live, function(a, b)
    if a.dl ~= b.dl then return a.dl < b.dl end
    return a.field < b.field
  end)
  local out = {}
  for i, r in ipairs(live) do
    out[i] = (r.dl - now) .. '|' .. r.fence .. '|' .. r.limit .. '|' .. r.mode .. '|' .. json_of(r)
  end
  return out
end

-- reply_busy: {0, position, length, pttl, fits, holders...}; fits is 1
-- when only the queue keeps the request waiting (it fits the holders).
local function reply_busy(st, pos, len, pttl, fit)
  local out = {0, pos, len, pttl, fit and 1 or 0}
  for _, h in ipairs(holders(st)) do out[#out + 1] = h end
  return out
end
