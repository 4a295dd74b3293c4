"""Lua scripts behind the Redis semaphore (the ledger's are in ``_redis_ledger_scripts``).

Each script runs atomically inside Redis, so "count the holders, then add one" can never
interleave with another process doing the same. Time comes from Redis (``TIME``), not from the
callers: hosts' clocks disagree, the server's clock is the one every caller shares. Scripts
that read ``TIME`` and then write are fine since Redis 5 (effects replication), and required
behaviour since Redis 7.

Semaphore scripts share KEYS (see ``RedisKeys.semaphore_keys``) and the first seven ARGV:
``wake_prefix``, ``candidate_epoch`` (random per call), ``capacity``, ``known_epoch`` (the last
epoch the caller saw, or empty), ``grace_ms`` (how long grants wait after Redis lost its data),
``orphan_ms`` (how long a dead holder's slot is kept at most) and ``origin_prefix`` (the ledger's
per-holder sets of entries, empty when no ledger shares the namespace).

Three rules beyond a plain counting semaphore:

* **A dead holder's slots wait for its sessions.** A lease that lapses while its holder still
  has entries in the ledger (sessions that may be alive) becomes an *orphan*: it keeps counting
  against the cap until a reaper settles those entries (or ``orphan_ms`` passes, past any
  session's life). A holder that was only paused finds its orphans and takes them back.
* **Fair shares across holders.** Waiters are served fewest-held-slots first (by holder, i.e.
  per process), then in arrival order, so a process that holds many slots never takes the next
  one before a process that holds fewer; with `REFRESH` telling holders how few the neediest
  waiting holder has, holders hand slots back at lease boundaries until shares are even.
* **A restart is not a fresh start.** When a caller that knew an earlier epoch finds a young
  one (Redis lost its data), no slot is granted for ``grace_ms``: every live holder gets to put
  its leases back first.
"""

from __future__ import annotations

# How many pending wake-ups a semaphore instance's list keeps, and how long the list outlives
# its last push (an instance that died must not leave lists behind for ever).
WAKE_LIST_CAP = 256
WAKE_LIST_TTL_MS = 60_000
# How many holders' last grants the fair line's tie-break remembers.
TURN_MEMORY = 1000

_PRELUDE = f"""
local holders, tokens, waiters, wexp, counters, epoch_key, orphans, born_key, grace_key, turns =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local wake_prefix, candidate_epoch, capacity = ARGV[1], ARGV[2], tonumber(ARGV[3])
local known_epoch, grace_ms, orphan_ms = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local origin_prefix = ARGV[7]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- The epoch names this life of the data. It is only ever created, never replaced, so a new
-- value means Redis lost everything (a restart without persistence, a flush). A caller that
-- saw an earlier epoch and meets a young one starts the grace period.
local function current_epoch()
  if redis.call('SET', epoch_key, candidate_epoch, 'NX') then
    redis.call('SET', born_key, now)
  end
  local epoch = redis.call('GET', epoch_key)
  if known_epoch ~= '' and known_epoch ~= epoch then
    local born = tonumber(redis.call('GET', born_key) or now)
    local left = born + grace_ms - now
    if left > 0 then redis.call('SET', grace_key, epoch, 'PX', left, 'NX') end
  end
  return epoch
end

local function holder_of(slot)
  return string.match(slot, '^(.-)/') or slot
end

-- Ledger entries (sessions that may live) a holder still has; 0 without a ledger.
local function sessions_of(holder)
  if origin_prefix == '' then return 0 end
  return redis.call('SCARD', origin_prefix .. holder)
end

-- Drop leases and waiters whose owners stopped refreshing them. A lapsed lease whose holder
-- still has sessions in the ledger becomes an orphan instead, one per such session; an
-- orphan goes once its holder's sessions are settled or orphan_ms has passed.
local function purge()
  local changed = 0
  local kept = {{}}
  local held = redis.call('ZRANGE', orphans, 0, -1, 'WITHSCORES')
  for i = 1, #held, 2 do
    local slot, until_ms = held[i], tonumber(held[i + 1])
    local holder = holder_of(slot)
    if until_ms <= now or (kept[holder] or 0) >= sessions_of(holder) then
      redis.call('ZREM', orphans, slot)
      redis.call('HDEL', tokens, slot)
      changed = changed + 1
    else
      kept[holder] = (kept[holder] or 0) + 1
    end
  end
  local dead = redis.call('ZRANGEBYSCORE', holders, '-inf', now)
  for _, slot in ipairs(dead) do
    redis.call('ZREM', holders, slot)
    local holder = holder_of(slot)
    if (kept[holder] or 0) < sessions_of(holder) then
      redis.call('ZADD', orphans, now + orphan_ms, slot)
      kept[holder] = (kept[holder] or 0) + 1
    else
      redis.call('HDEL', tokens, slot)
      changed = changed + 1
    end
  end
  redis.call('ZREMRANGEBYRANK', turns, 0, -{TURN_MEMORY} - 1)
  local gone = redis.call('ZRANGEBYSCORE', wexp, '-inf', now)
  for _, waiter in ipairs(gone) do
    redis.call('ZREM', wexp, waiter)
    redis.call('ZREM', waiters, waiter)
    changed = changed + 1
  end
  return changed
end

local function free_slots()
  if redis.call('EXISTS', grace_key) == 1 then return 0 end
  return capacity - redis.call('ZCARD', holders) - redis.call('ZCARD', orphans)
end

-- Live leases per holder.
local function held_by()
  local counts = {{}}
  for _, slot in ipairs(redis.call('ZRANGE', holders, 0, -1)) do
    local holder = holder_of(slot)
    counts[holder] = (counts[holder] or 0) + 1
  end
  return counts
end

-- The waiters in the order they are served: fewest slots held by their holder first; among
-- holders with as many, the one whose last grant came first (grants are numbered), so an odd
-- slot handed back goes round instead of straight back; then by arrival (ticket).
local function fair_line(counts)
  local line = {{}}
  local last = {{}}
  local raw = redis.call('ZRANGE', waiters, 0, -1, 'WITHSCORES')
  for i = 1, #raw, 2 do
    local waiter = raw[i]
    local holder = holder_of(waiter)
    if last[holder] == nil then
      last[holder] = tonumber(redis.call('ZSCORE', turns, holder) or '0')
    end
    table.insert(line, {{waiter, counts[holder] or 0, last[holder], tonumber(raw[i + 1])}})
  end
  table.sort(line, function(a, b)
    if a[2] ~= b[2] then return a[2] < b[2] end
    if a[3] ~= b[3] then return a[3] < b[3] end
    return a[4] < b[4]
  end)
  return line
end

-- Tell the first n waiters in line that a slot may be theirs. A waiter id is
-- "<holder_id>/<random>"; the push goes to the list its semaphore instance blocks on.
local function wake(n)
  if n <= 0 then return end
  local line = fair_line(held_by())
  for i = 1, math.min(n, #line) do
    local waiter = line[i][1]
    local owner = string.match(waiter, '^(.-)/')
    if owner then
      local key = wake_prefix .. owner
      redis.call('RPUSH', key, waiter)
      redis.call('LTRIM', key, -{WAKE_LIST_CAP}, -1)
      redis.call('PEXPIRE', key, {WAKE_LIST_TTL_MS})
    end
  end
end
"""

# ARGV[8] slot id (also the waiter id), ARGV[9] lease ms, ARGV[10] waiter ttl ms.
# Returns {1, token, epoch, rank} on a grant, {0, rank, epoch, free} otherwise.
ACQUIRE = (
    _PRELUDE
    + """
local slot, lease_ms, waiter_ms = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
local changed = purge()
local epoch = current_epoch()

-- A retry whose first reply was lost: the grant exists already, hand it back.
if redis.call('ZSCORE', holders, slot) then
  return {1, tonumber(redis.call('HGET', tokens, slot)), epoch, 0}
end

if not redis.call('ZSCORE', waiters, slot) then
  local ticket = redis.call('HINCRBY', counters, 'ticket', 1)
  redis.call('ZADD', waiters, ticket, slot)
end
redis.call('ZADD', wexp, now + waiter_ms, slot)

-- Only the first `free` waiters of the fair line may take a slot: no one jumps it.
local free = free_slots()
local line = fair_line(held_by())
local rank = #line
for i, entry in ipairs(line) do
  if entry[1] == slot then
    rank = i - 1
    break
  end
end
if rank < free then
  local token = redis.call('HINCRBY', counters, 'fence', 1)
  redis.call('ZADD', holders, now + lease_ms, slot)
  redis.call('HSET', tokens, slot, token)
  redis.call('ZREM', waiters, slot)
  redis.call('ZREM', wexp, slot)
  redis.call('ZADD', turns, redis.call('HINCRBY', counters, 'turn', 1), holder_of(slot))
  if changed > 0 then wake(free - 1) end
  return {1, token, epoch, rank}
end
-- Expired leases or waiters were dropped just now: nobody released them, so nobody woke the
-- waiters that may now move up. Do it here.
if changed > 0 then wake(free) end
return {0, rank, epoch, free}
"""
)

# ARGV[8..] slot ids. Returns how many leases (live or orphaned) were removed.
RELEASE = (
    _PRELUDE
    + """
purge()
local removed = 0
for i = 8, #ARGV do
  removed = removed + redis.call('ZREM', holders, ARGV[i]) + redis.call('ZREM', orphans, ARGV[i])
  redis.call('HDEL', tokens, ARGV[i])
end
wake(free_slots())
return removed
"""
)

# ARGV[8] slot id: the waiter gives up (deadline, cancellation). Removes its queue entry and,
# if a grant was made whose reply never arrived, that lease too.
ABANDON = (
    _PRELUDE
    + """
local slot = ARGV[8]
purge()
redis.call('ZREM', waiters, slot)
redis.call('ZREM', wexp, slot)
local removed = redis.call('ZREM', holders, slot)
redis.call('HDEL', tokens, slot)
wake(free_slots())
return removed
"""
)

# ARGV[8] lease ms, ARGV[9] the caller's holder id, then groups of 4: slot id, token, epoch
# of the grant, may_reclaim (0/1). Extends every lease still held; an orphaned lease of this
# holder (it was paused past its TTL, and its slot was never given away) is taken back. A
# grant from an earlier epoch (Redis lost its data) is put back when its holder says its
# lease would still be valid, so the new data counts it; the fence counter is raised past its
# token so tokens keep increasing.
# Returns {epoch, lost slot ids, reclaimed slot ids, neediest}: neediest is the fewest live
# slots held by any *other* holder that has waiters, or -1 when no other holder waits.
REFRESH = (
    _PRELUDE
    + """
local lease_ms, me = tonumber(ARGV[8]), ARGV[9]
local changed = purge()
local epoch = current_epoch()
local lost, reclaimed = {}, {}
local i = 10
while i + 3 <= #ARGV do
  local slot, token, grant_epoch, may_reclaim = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if grant_epoch == epoch then
    if redis.call('HGET', tokens, slot) ~= token then
      table.insert(lost, slot)
    elseif redis.call('ZSCORE', holders, slot) then
      redis.call('ZADD', holders, 'XX', now + lease_ms, slot)
    elseif redis.call('ZREM', orphans, slot) == 1 then
      redis.call('ZADD', holders, now + lease_ms, slot)
    else
      table.insert(lost, slot)
    end
  elseif may_reclaim == '1' then
    redis.call('ZADD', holders, now + lease_ms, slot)
    redis.call('HSET', tokens, slot, token)
    local fence = tonumber(redis.call('HGET', counters, 'fence') or '0')
    if fence < tonumber(token) then redis.call('HSET', counters, 'fence', token) end
    table.insert(reclaimed, slot)
  else
    table.insert(lost, slot)
  end
  i = i + 4
end
if changed > 0 then wake(free_slots()) end
local counts = held_by()
local neediest = -1
for _, waiter in ipairs(redis.call('ZRANGE', waiters, 0, -1)) do
  local holder = holder_of(waiter)
  if holder ~= me then
    local held = counts[holder] or 0
    if neediest < 0 or held < neediest then neediest = held end
  end
end
return {epoch, lost, reclaimed, neediest}
"""
)

# ARGV[8] slot id, ARGV[9] token. 1 while that exact grant holds an unexpired lease.
IS_HELD = (
    _PRELUDE
    + """
local expiry = redis.call('ZSCORE', holders, ARGV[8])
if not expiry or tonumber(expiry) <= now then return 0 end
if redis.call('HGET', tokens, ARGV[8]) ~= ARGV[9] then return 0 end
return 1
"""
)

# Returns {holders, waiters, epoch, orphans} after purging: for diagnostics and tests.
STATE = (
    _PRELUDE
    + """
local changed = purge()
if changed > 0 then wake(free_slots()) end
return {redis.call('ZCARD', holders), redis.call('ZCARD', waiters), current_epoch(),
        redis.call('ZCARD', orphans)}
"""
)
