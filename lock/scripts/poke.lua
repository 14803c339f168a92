-- A waiter's slow safety re-check. ARGV: 1 token, 2 waiter id, 3 queue ttl ms.
-- Returns {1, fence} when the token holds a live lease (a grant whose
-- message was lost), {0} while queued behind others (refreshing the queue's
-- expiry), {2} when first in line (the waiter runs acquire again, under the
-- same id: it prunes, serves and schedules the head's wake-up), {-1} when no
-- longer queued (the waiter queues again).
local v = redis.call('HGET', K_HOLDERS, ARGV[1])
if v then
  local d, fence = string.match(v, '^(%d+)|(%d+)|')
  if tonumber(d) > now_ms() then return {1, tonumber(fence)} end
end
if redis.call('HEXISTS', K_WAITERS, ARGV[2]) == 0 then return {-1} end
if redis.call('LINDEX', K_QUEUE, 0) == ARGV[2] then return {2} end
redis.call('PEXPIRE', K_QUEUE, ARGV[3])
redis.call('PEXPIRE', K_WAITERS, ARGV[3])
return {0}
