-- Shared by every lock script. KEYS: 1 holders (zset token -> deadline ms),
-- 2 meta (hash token -> "fence|since|limit|json"), 3 fence (counter),
-- 4 queue (list of waiter ids), 5 waiters (hash id -> "token|ttl|limit|json").
-- Time is the server's: TIME inside the script (effects are replicated).
local K_HOLDERS, K_META, K_FENCE, K_QUEUE, K_WAITERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
