"""Lua scripts behind the Redis ledger: each runs atomically inside Redis and stamps times
with Redis's own clock (``TIME``), the clock every host shares."""

from __future__ import annotations

# -- the ledger ---------------------------------------------------------------------------
# KEYS[1] the id set; ARGV[1] entry key prefix, ARGV[2] owner set prefix.
_LEDGER_PRELUDE = """
local ids, entry_prefix, owner_prefix = KEYS[1], ARGV[1], ARGV[2]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local now_text = string.format('%d.%06d', tonumber(clock[1]), tonumber(clock[2]))
"""

# ARGV[3] intent id, [4] entry data, [5] owner data, [6] owner key, [7] heartbeat_at,
# [8] origin set prefix, [9] the holder that made the entry. The origin is set once and kept
# through claims: the semaphore holds that holder's lapsed slots while the entry exists.
LEDGER_RECORD = (
    _LEDGER_PRELUDE
    + """
local intent = ARGV[3]
local key = entry_prefix .. intent
local previous = redis.call('HGET', key, 'owner_key')
if previous and previous ~= ARGV[6] then
  redis.call('SREM', owner_prefix .. previous, intent)
end
redis.call('HSET', key, 'data', ARGV[4], 'owner', ARGV[5], 'owner_key', ARGV[6],
           'heartbeat_at', ARGV[7])
redis.call('HSETNX', key, 'origin', ARGV[9])
redis.call('SADD', ids, intent)
redis.call('SADD', owner_prefix .. ARGV[6], intent)
redis.call('SADD', ARGV[8] .. redis.call('HGET', key, 'origin'), intent)
return 1
"""
)

# ARGV[3] intent id, [4] origin set prefix.
LEDGER_REMOVE = (
    _LEDGER_PRELUDE
    + """
local intent = ARGV[3]
local key = entry_prefix .. intent
local previous = redis.call('HGET', key, 'owner_key')
if previous then redis.call('SREM', owner_prefix .. previous, intent) end
local origin = redis.call('HGET', key, 'origin')
if origin then redis.call('SREM', ARGV[4] .. origin, intent) end
redis.call('DEL', key)
redis.call('SREM', ids, intent)
return 1
"""
)

# ARGV[3] owner key. Stamps the server's time on every entry the owner holds.
LEDGER_HEARTBEAT = (
    _LEDGER_PRELUDE
    + """
local owner_key = owner_prefix .. ARGV[3]
local refreshed = 0
for _, intent in ipairs(redis.call('SMEMBERS', owner_key)) do
  local key = entry_prefix .. intent
  if redis.call('HGET', key, 'owner_key') == ARGV[3] then
    redis.call('HSET', key, 'heartbeat_at', now_text)
    refreshed = refreshed + 1
  else
    redis.call('SREM', owner_key, intent)
  end
end
return refreshed
"""
)

# ARGV[3] intent id, [4] new owner data, [5] new owner key, [6] stale_after seconds,
# [7] the owner key the caller judged, [8] 1 when that owner is known dead (same host),
# [9] a nonce for this claim. 1 when the caller took the entry over. The new owner's heartbeat
# is stamped in the same step, so a second claimer sees a fresh entry and loses. The nonce
# makes a retried claim (first reply lost) answer 1 again instead of "owned by yourself".
LEDGER_CLAIM = (
    _LEDGER_PRELUDE
    + """
local intent = ARGV[3]
local key = entry_prefix .. intent
local previous = redis.call('HGET', key, 'owner_key')
if not previous then return 0 end
if previous == ARGV[5] then
  if redis.call('HGET', key, 'claim_nonce') == ARGV[9] then return 1 end
  return 0
end
if previous ~= ARGV[7] then return 0 end
if ARGV[8] ~= '1' then
  local heartbeat = tonumber(redis.call('HGET', key, 'heartbeat_at'))
  if heartbeat and now - heartbeat <= tonumber(ARGV[6]) then return 0 end
end
redis.call('SREM', owner_prefix .. previous, intent)
redis.call('HSET', key, 'owner', ARGV[4], 'owner_key', ARGV[5], 'heartbeat_at', now_text,
           'claim_nonce', ARGV[9])
redis.call('SADD', owner_prefix .. ARGV[5], intent)
return 1
"""
)
