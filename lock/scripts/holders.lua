-- Returns {waiters, holders...} with the live holders of the lock.
local out = {redis.call('LLEN', K_QUEUE)}
for _, h in ipairs(holders_info(now_ms())) do out[#out + 1] = h end
return out
