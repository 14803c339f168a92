-- Serves the queue after a release that ran as plain commands (HDEL of a
-- lone exclusive lease, then EXISTS of the queue) found waiters.
local st = load()
serve(st, false, nil)
flush(st)
return 1
