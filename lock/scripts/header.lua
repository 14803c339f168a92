-- Shared by every lock script. KEYS: 1 holders (hash: 'f' -> last fence;
-- a holder field -> "deadline_ms|fence|limit|mode|token|holder-json", the
-- field being the token, or 'x' for an exclusive lease granted from the
-- queue), 2 queue (list of "bid:wid|token|ttl_ms|limit|mode|queued_ms|json").
-- Waiter channels are "<holders key minus 'h'>w:<bid>". Time is the
-- server's (TIME); every write is replicated as an effect.
local K_H, K_Q = KEYS[1], KEYS[2]
