-- A waiter gives up. ARGV: 1 its queue entry, 2 token. Removes the entry;
-- if the waiter was granted the lock meanwhile, releases that lease. A new
-- head learns it is first in line. Returns the live holders.
local head = redis.call('LINDEX', K_Q, 0) == ARGV[1]
local removed = redis.call('LREM', K_Q, 1, ARGV[1])
local st = load()
local mine = find(st, ARGV[2])
if mine then drop(st, mine) end
if mine or (removed > 0 and head) then serve(st, true, nil) end
flush(st)
return holders(st)
