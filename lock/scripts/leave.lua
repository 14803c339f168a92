-- A waiter gives up. ARGV: 1 waiter id, 2 token, 3 channel prefix.
-- Removes the waiter; if it was granted the lock meanwhile, releases it.
-- Returns the live holders.
local id, token, chan = ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local was_head = redis.call('LINDEX', K_QUEUE, 0) == id
if redis.call('HDEL', K_WAITERS, id) == 1 then
  redis.call('LREM', K_QUEUE, 1, id)
end
local removed = redis.call('HDEL', K_HOLDERS, token)
prune(now)
grant(now, chan, was_head) -- a new head must learn it is first in line
if removed == 1 then extend(now) end -- the last deadline may have been this one
return holders_info(now)
