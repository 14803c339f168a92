-- ARGV: 1 token. Returns 1 when released, 0 when the token held no live
-- lease (nothing of another holder is deleted). The freed capacity goes to
-- the queue's head in the same script. Alone and unwaited: HGETALL, LPOP,
-- HDEL.
local released = false
local all = redis.call('HGETALL', K_H)
local field, rec, last
if #all == 4 then
  if all[1] == 'f' then
    last, field, rec = all[2], all[3], all[4]
  elseif all[3] == 'f' then
    field, rec, last = all[1], all[2], all[4]
  end
end
if field and string.match(rec, '^%d+|%d+|1|x|([^|]*)|') == ARGV[1] then
  -- The hand-off fast path: a lone exclusive lease (live, since its key
  -- exists) passes to an exclusive waiter of limit 1, without the helpers:
  -- LPOP, TIME, SPUBLISH, HSET, PEXPIREAT, LINDEX, SPUBLISH.
  local e = redis.call('LPOP', K_Q)
  if not e then
    redis.call('HDEL', K_H, field)
    return 1
  end
  local bid, wid, tok, ttl, at = string.match(e, '^([^:|]*):([^|]*)|([^|]*)|(%d+)|1|x|%d*|()')
  if not bid then
    redis.call('LPUSH', K_Q, e) -- another kind of waiter: the general path serves it
  else
    local t = redis.call('TIME')
    local fence = t[1] * 1000000 + t[2]
    if tonumber(last) >= fence then fence = last + 1 end
    local fs = string.format('%d', fence)
    local base = string.sub(K_H, 1, -2) .. 'w:'
    if redis.call('SPUBLISH', base .. bid, 'g|' .. wid .. '|' .. fs) > 0 then
      local dl = t[1] * 1000 + math.floor(t[2] / 1000) + ttl
      redis.call('HSET', K_H, 'x', dl .. '|' .. fs .. '|1|x|' .. tok .. '|' .. string.sub(e, at), 'f', fs)
      if field ~= 'x' then redis.call('HDEL', K_H, field) end
      redis.call('PEXPIREAT', K_H, dl - 1)
      released = true
      local next = redis.call('LINDEX', K_Q, 0)
      if not next then return 1 end
      local nbid, nwid = string.match(next, '^([^:|]*):([^|]*)|')
      if nbid and redis.call('SPUBLISH', base .. nbid, 'h|' .. nwid .. '|' .. ttl) > 0 then return 1 end
      -- a dead first in line: the general path drops it
    end
    -- else a dead waiter, popped: the general path serves the next
  end
end
--@prelude
local st = load()
if not released then
  local mine = find(st, ARGV[1])
  if not mine then return 0 end
  drop(st, mine)
end
serve(st, released, nil)
flush(st)
return 1
