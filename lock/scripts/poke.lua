-- A waiter's slow safety re-check. ARGV: 1 token, 2 waiter id, 3 queue ttl ms.
-- Returns {1, fence} when the token holds a live lease (a grant whose
-- message was lost), {0} while still queued (refreshing the queue's expiry),
-- {-1} when no longer queued or first in line (the waiter must run acquire
-- again: it prunes, serves and schedules the head's wake-up).
local s = redis.call('ZSCORE', K_HOLDERS, ARGV[1])
if s and tonumber(s) > now_ms() then
  local fence = split4(redis.call('HGET', K_META, ARGV[1]))
  return {1, tonumber(fence)}
end
if redis.call('LINDEX', K_QUEUE, 0) ~= ARGV[2] and redis.call('HEXISTS', K_WAITERS, ARGV[2]) == 1 then
  redis.call('PEXPIRE', K_QUEUE, ARGV[3])
  redis.call('PEXPIRE', K_WAITERS, ARGV[3])
  return {0}
end
return {-1}
