-- A waiter's re-check: slow safety net, wake-up of the first in line at the
-- end of a lease, position update, and the second in line's look at the
-- first (its backend may be gone: nothing else would notice while the
-- holders hold). ARGV: 1 token, 2 its queue entry, 3 flags (l: also return
-- the queue length). Returns {1, fence} when the token holds a live lease
-- (a grant whose message was lost, or served now), {0, position, length,
-- pttl, fits} while queued (length -1 unless asked; pttl when first in line,
-- else -1; fits 1 when only the queue keeps it waiting: it would fit the
-- holders), {-1} when no longer queued. A waiter behind a held lock costs
-- HGETALL, LPOS, PEXPIRE (and LINDEX, SPUBLISH when second in line).
local st = load()
local mine = find(st, ARGV[1])
if mine then return {1, mine.fence} end
local pos = redis.call('LPOS', K_Q, ARGV[2])
if not pos then return {-1} end
local dropped = false
if pos == 1 then
  local e = redis.call('LINDEX', K_Q, 0)
  local w = e and parse_entry(e)
  if w and redis.call('SPUBLISH', channel(w), 'p|' .. w.wid) == 0 then
    redis.call('LPOP', K_Q) -- the first in line's backend is gone: drop it
    pos, dropped = 0, true
  end
end
if pos == 0 or st.n == 0 then
  local f = serve(st, dropped, ARGV[2])
  flush(st)
  if f then return {1, f} end
  if pos ~= 0 then
    pos = redis.call('LPOS', K_Q, ARGV[2])
    if not pos then return {-1} end
  end
end
redis.call('PEXPIRE', K_Q, QUEUE_TTL)
local len = -1
if string.find(ARGV[3], 'l', 1, true) then len = redis.call('LLEN', K_Q) end
local me = parse_entry(ARGV[2])
local fit = 0
if me and fits(st, me.mode, me.limit) then fit = 1 end
if pos == 0 then return {0, 1, len, first_end(st), fit} end
return {0, pos + 1, len, -1, fit}
