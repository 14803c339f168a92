-- Shared by every lock script. KEYS: 1 holders (hash token ->
-- "deadline_ms|fence|since_ms|limit|json"), 2 fence (counter), 3 queue (list
-- of waiter ids), 4 waiters (hash id -> "token|ttl|limit|json").
-- Time is the server's: TIME inside the script (effects are replicated).
local K_HOLDERS, K_FENCE, K_QUEUE, K_WAITERS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
