-- ARGV: 1 token. Returns 1 when released, 0 when the token held no live
-- lease (nothing of another holder is deleted). The freed capacity goes to
-- the queue's head in the same script. Alone and unwaited: HGETALL, LPOP,
-- HDEL.
local st = load()
local mine = find(st, ARGV[1])
if not mine then return 0 end
drop(st, mine)
serve(st, false, nil)
flush(st)
return 1
