-- ARGV: 1 token. Returns 1 when the token holds a live lease.
local v = redis.call('HMGET', K_H, ARGV[1], 'x')
local r = nil
if v[1] then r = record(ARGV[1], v[1]) elseif v[2] then r = record('x', v[2]) end
if r and r.tok == ARGV[1] and r.dl > clock({}) then return 1 end
return 0
