-- ARGV: 1 token, 2 ttl ms. Extends a live lease to ttl from now; never
-- re-creates one. Returns 1 when renewed, 0 when the token holds nothing
-- and the lock is free, -1 when another holder holds it.
local st = load()
local mine = find(st, ARGV[1])
if not mine then
  if st.n > 0 then return -1 end
  return 0
end
local dl = clock(st) + tonumber(ARGV[2])
mine.dl = dl
st.set[mine.field] = dl .. string.sub(mine.raw, #string.match(mine.raw, '^%d+') + 1)
flush(st)
return 1
