-- KEYS: 1 marker. ARGV: 1 json, 2 ttl ms (0 = forever). Stamps server time.
local t = redis.call('TIME')
local v = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) .. '|' .. ARGV[1]
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], v)
end
return 1
