-- KEYS: 1 a run's wait records (hash: wait id -> record json). ARGV: 1 wait
-- id, 2 record json, 3 ttl ms. Writes (or rewrites) the record and sets the
-- hash's expiry: each wait of the run refreshes it at every deadlock check.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
