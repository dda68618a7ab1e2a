//! The Lua scripts: one per operation, each the whole operation, so it is atomic on the server.
//!
//! Every script gets the namespace's three bookkeeping keys first (`KEYS[1]` the counters hash,
//! `KEYS[2]` the LRU sorted set, `KEYS[3]` the deadline sorted set), then the entry keys it may
//! touch, and `ARGV[1]` the prefix of the namespace's entry keys. All of them carry the
//! namespace's hash tag, so on Cluster they live in one slot and a script runs on one node.
//!
//! A script never touches a key it was not given. An operation that may remove entries it cannot
//! name in advance (an insert that needs room, a shrink, a purge, a clear, a removal by prefix)
//! first works out its victims without writing anything; if one of their keys is missing from
//! `KEYS` it returns the list of victims and the next few entries in LRU order (a *plan*)
//! instead, and the client calls it again with those keys added. The second call works the plan out again, so a plan that went stale in
//! between is never applied. A plan is a list of names; a script whose answer is a list starts
//! it with a number, so the two cannot be confused.
//!
//! The data model, per namespace (`M` the counters hash, `L` and `X` the sorted sets):
//!
//! - an entry is a hash at `<prefix><escaped key>`: `v` the value, `r` reads left (absent: no
//!   budget), `t` the TTL in microseconds when it slides;
//! - `L` holds every stored entry, scored by the namespace's use counter (`M.clock`, incremented
//!   by every use), so its order is the exact LRU order; its size is `current_size`;
//! - `X` holds every entry with a deadline, scored by the deadline in logical microseconds;
//! - `M` holds `hits`, `misses`, `expirations`, `evictions`, `cap` (capacity), `clock` and `off`
//!   (the manual clock's offset in microseconds).
//!
//! Logical time is the server's `TIME` plus `M.off` (a real clock shifted by `advance`), or, once
//! the namespace's clock is frozen for tests, `M.base` (the real time when it was frozen) plus
//! `M.off`: a manual clock that moves only by `advance`. On the real clock an entry with a
//! deadline also gets a real `PEXPIREAT` at `deadline - off + SLACK_MS`: since `off` only grows,
//! the real expiry always comes after the logical one, so Redis never drops an entry the contract
//! still calls live. An entry Redis dropped is still in `L` and `X` (with a passed deadline), and
//! the script that finds it counts its Expiration then, once, like any other expired entry. On a
//! manual clock no real expiry can be known to come after the logical one, so entries get none:
//! memory is freed by reclaiming (a read, a purge) or by dropping the namespace.

use redis::Script;

/// Milliseconds between an entry's logical deadline and the real expiry Redis applies to its key.
pub(crate) const SLACK_MS: u64 = 2_000;

/// Shared by every script: time, entry state, the capacity plan, removal.
const PRELUDE: &str = r#"
local M, L, X = KEYS[1], KEYS[2], KEYS[3]
local PFX = ARGV[1]
local SLACK = tonumber(ARGV[2])
local OFF, MANUAL = 0, false
local function fmt(x) return string.format('%.0f', x) end
-- Logical now in microseconds: the frozen `base` plus the offset on a manual clock, else the
-- server's TIME plus the offset.
local function now()
  local c = redis.call('HMGET', M, 'off', 'base')
  OFF = tonumber(c[1] or '0')
  if c[2] then
    MANUAL = true
    return tonumber(c[2]) + OFF
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]) + OFF
end
-- The real expiry of an entry whose logical deadline is `deadline`: on the real clock, the
-- deadline minus the offset plus the slack (always later than the logical deadline, as the offset
-- only grows). A manual clock does not follow real time, so no real expiry can be known to come
-- after the logical one: those entries get none.
local function expire(key, deadline)
  if not MANUAL then
    redis.call('PEXPIREAT', key, fmt(math.floor((deadline - OFF) / 1000) + SLACK))
  end
end
local function bump(field) redis.call('HINCRBY', M, field, 1) end
local function expired(member, n)
  local d = redis.call('ZSCORE', X, member)
  return d and n >= tonumber(d)
end
-- 'absent', 'live', 'expired' (deadline passed), or 'vanished' (gone from the server before its
-- deadline: only a server-side eviction by maxmemory or a foreign DEL does that).
local function state(member, key, n)
  if not redis.call('ZSCORE', L, member) then return 'absent' end
  if expired(member, n) then return 'expired' end
  if redis.call('EXISTS', key) == 0 then return 'vanished' end
  return 'live'
end
local function remove(member)
  redis.call('DEL', PFX .. member)
  redis.call('ZREM', L, member)
  redis.call('ZREM', X, member)
end
-- Counts the removal of an entry found expired or vanished (not a live one).
local function count_dead(st)
  if st == 'expired' then bump('expirations') elseif st == 'vanished' then bump('evictions') end
end
-- The entries to remove so that `extra` more fit under capacity `cap`: expired ones first
-- (earliest deadline first), then the least recently used. Each is {member, is_expired}.
local function plan(n, extra, cap)
  local out = {}
  if cap == 0 then return out end
  local excess = redis.call('ZCARD', L) + extra - cap
  if excess <= 0 then return out end
  local picked = {}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', fmt(n), 'LIMIT', 0, excess)) do
    out[#out + 1] = {m, true}
    picked[m] = true
  end
  if #out < excess then
    for _, m in ipairs(redis.call('ZRANGE', L, 0, excess + #out)) do
      if #out < excess and not picked[m] then out[#out + 1] = {m, false} end
    end
  end
  return out
end
-- nil when every victim's key was passed in KEYS, else the members to pass (the retry): the
-- victims, then the next 16 entries in LRU order, so that when other clients evict this plan's
-- victims before the call comes back, the next plan's are most likely passed already.
local function undeclared(victims)
  local declared = {}
  for i = 4, #KEYS do declared[KEYS[i]] = true end
  local members, missing, named = {}, false, {}
  for _, v in ipairs(victims) do
    members[#members + 1] = v[1]
    named[v[1]] = true
    if not declared[PFX .. v[1]] then missing = true end
  end
  if not missing then return nil end
  for _, m in ipairs(redis.call('ZRANGE', L, 0, #members + 15)) do
    if not named[m] then
      members[#members + 1] = m
      named[m] = true
    end
  end
  return members
end
local function apply(victims)
  for _, v in ipairs(victims) do
    remove(v[1])
    if v[2] then bump('expirations') else bump('evictions') end
  end
end
local function capacity() return tonumber(redis.call('HGET', M, 'cap') or '0') end
local function use(member)
  redis.call('ZADD', L, redis.call('HINCRBY', M, 'clock', 1), member)
end
-- A hit on the live entry `m` at `key`: counted, a read spent (the last removes the entry), a
-- sliding TTL refreshed, a use. Returns the value.
local function hit(m, key, n)
  local e = redis.call('HMGET', key, 'v', 'r', 't')
  bump('hits')
  if e[2] then
    local left = tonumber(e[2]) - 1
    if left <= 0 then remove(m); return e[1] end
    redis.call('HSET', key, 'r', fmt(left))
  end
  if e[3] then
    local d = n + tonumber(e[3])
    redis.call('ZADD', X, fmt(d), m)
    expire(key, d)
  end
  use(m)
  return e[1]
end
-- Whether `m` at `key` is live, as a read finds it: a miss is counted, and a dead entry reclaimed.
local function live_for_read(m, key, n)
  local st = state(m, key, n)
  if st == 'live' then return true end
  if st ~= 'absent' then remove(m); count_dead(st) end
  bump('misses')
  return false
end
-- The victims an insert of `m` (in state `st`) must remove to make room, or nil and the plan
-- to return when one of their keys was not passed.
local function room(st, n)
  if st ~= 'absent' then return {}, nil end
  local victims = plan(n, 1, capacity())
  return victims, undeclared(victims)
end
-- Stores `ARGV[4]` under `m` at `key` with the options `ARGV[5..7]` (a put), replacing what was
-- there (state `st`, its Expiration counted) after removing `victims`.
local function write(m, key, n, st, victims)
  count_dead(st)
  apply(victims)
  redis.call('DEL', key)
  local ttl, reads = tonumber(ARGV[5]), tonumber(ARGV[7])
  local fields = {'v', ARGV[4]}
  if reads > 0 then fields[#fields + 1] = 'r'; fields[#fields + 1] = ARGV[7] end
  if ttl > 0 and ARGV[6] == '1' then fields[#fields + 1] = 't'; fields[#fields + 1] = ARGV[5] end
  redis.call('HSET', key, unpack(fields))
  if ttl > 0 then
    local d = n + ttl
    redis.call('ZADD', X, fmt(d), m)
    expire(key, d)
  else
    redis.call('ZREM', X, m)
  end
  use(m)
end
"#;

/// `ARGV[3]` member, `[4]` value, `[5]` TTL in µs (0: none), `[6]` sliding (`1`), `[7]` read
/// budget (0: none). Returns 1, or a plan.
const PUT: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
local st = state(m, key, n)
local victims, retry = room(st, n)
if retry then return retry end
write(m, key, n, st, victims)
return 1
"#;

/// `ARGV[3]` member. Returns the value or nil.
const GET: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
if not live_for_read(m, key, n) then return false end
return hit(m, key, n)
"#;

/// The near cache's `GET`: `ARGV[3]` the member. Returns nil, or {value, keep}: keep is -2 when
/// the entry must not be kept near (a read budget, a sliding TTL, or a deadline on a frozen
/// clock, which real time does not reach), -1 when it has no deadline, else the microseconds
/// to its deadline. Counts, spends and refreshes exactly as `GET`.
const NEAR_GET: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
if not live_for_read(m, key, n) then return false end
local e = redis.call('HMGET', key, 'r', 't')
local d = redis.call('ZSCORE', X, m)
local v = hit(m, key, n)
if e[1] or e[2] then return {v, -2} end
if not d then return {v, -1} end
if MANUAL then return {v, -2} end
return {v, math.max(0, math.floor(tonumber(d) - n))}
"#;

/// The arguments of `PUT`. A live entry is read as by `GET` and its value returned; otherwise
/// one miss, then the put, and the answer is 1 (the caller's value was stored), or a plan
/// (written before anything else, so nothing is counted twice when the call is repeated).
const GET_OR_INSERT: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
local st = state(m, key, n)
if st == 'live' then return hit(m, key, n) end
local victims, retry = room(st, n)
if retry then return retry end
bump('misses')
write(m, key, n, st, victims)
return 1
"#;

/// `ARGV[3]` member. Returns 1 if live, else 0 (reclaiming an expired entry).
const HAS: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
local st = state(m, key, n)
if st == 'live' then return 1 end
if st ~= 'absent' then remove(m); count_dead(st) end
return 0
"#;

/// `ARGV[3]` member. Returns 1 if a live entry was removed, else 0.
const DEL: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
local st = state(m, key, n)
if st == 'absent' then return 0 end
remove(m)
if st == 'live' then return 1 end
count_dead(st)
return 0
"#;

/// `ARGV[3]` member. Returns the value if a live entry was removed, else nil (reclaiming an
/// expired entry).
const REMOVE: &str = r#"
local n = now()
local m, key = ARGV[3], KEYS[4]
local st = state(m, key, n)
if st == 'absent' then return false end
local v = false
if st == 'live' then v = redis.call('HGET', key, 'v') end
remove(m)
count_dead(st)
return v
"#;

/// `ARGV[3]` the escaped prefix (a key starts with a prefix exactly when its escaped form does
/// with the prefix's), `ARGV[4]` the most entries to remove. Removes the live entries whose member
/// starts with the prefix, counting nothing, and reclaims every expired entry met (one
/// Expiration each), up to that many in all. Returns {removed live entries, entries removed in
/// all} (the client calls again while a call removes the most), or a plan.
const REMOVE_PREFIX: &str = r#"
local n = now()
local P, most = ARGV[3], tonumber(ARGV[4])
local dead = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', fmt(n))) do dead[m] = true end
local victims = {}
for _, m in ipairs(redis.call('ZRANGE', L, 0, -1)) do
  if #victims >= most then break end
  if dead[m] then
    victims[#victims + 1] = {m, true}
  elseif string.sub(m, 1, #P) == P then
    victims[#victims + 1] = {m, false}
  end
end
local retry = undeclared(victims)
if retry then return retry end
local removed = 0
for _, v in ipairs(victims) do
  local st = 'expired'
  if not v[2] then
    st = 'live'
    if redis.call('EXISTS', PFX .. v[1]) == 0 then st = 'vanished' end
  end
  remove(v[1])
  if st == 'live' then removed = removed + 1 else count_dead(st) end
end
return {removed, #victims}
"#;

/// The live members, then the counters read after them: {members, {hits, misses, expirations,
/// evictions, current_size, capacity}}. Writes nothing.
const DUMP: &str = r#"
local n = now()
local dead = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', fmt(n))) do dead[m] = true end
local live = {}
for _, m in ipairs(redis.call('ZRANGE', L, 0, -1)) do
  if not dead[m] then live[#live + 1] = m end
end
local c = redis.call('HMGET', M, 'hits', 'misses', 'expirations', 'evictions', 'cap')
return {live, {tonumber(c[1] or '0'), tonumber(c[2] or '0'), tonumber(c[3] or '0'),
  tonumber(c[4] or '0'), redis.call('ZCARD', L), tonumber(c[5] or '0')}}
"#;

/// Reclaims expired entries, at most `ARGV[3]` of them (the client calls again while a call
/// reclaims that many). Returns how many, or a plan.
const PURGE: &str = r#"
local n = now()
local victims = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', X, '-inf', fmt(n), 'LIMIT', 0, tonumber(ARGV[3]))) do
  victims[#victims + 1] = {m, true}
end
local retry = undeclared(victims)
if retry then return retry end
apply(victims)
return #victims
"#;

/// `ARGV[3]` the capacity. Shrinking evicts at once. Returns 1, or a plan.
const SET_CAPACITY: &str = r#"
local n = now()
local cap = tonumber(ARGV[3])
local victims = plan(n, 0, cap)
local retry = undeclared(victims)
if retry then return retry end
redis.call('HSET', M, 'cap', ARGV[3])
apply(victims)
return 1
"#;

/// Removes up to `ARGV[4]` entries, counting nothing; when none are left and `ARGV[3] == 'drop'`,
/// also the counters, capacity and clock (the namespace is gone). Returns how many entries are
/// left (the client calls again until none are), or a plan.
const CLEAR: &str = r#"
local victims = {}
for _, m in ipairs(redis.call('ZRANGE', L, 0, tonumber(ARGV[4]) - 1)) do victims[#victims + 1] = {m, false} end
local retry = undeclared(victims)
if retry then return retry end
for _, v in ipairs(victims) do remove(v[1]) end
local left = redis.call('ZCARD', L)
if left == 0 and ARGV[3] == 'drop' then redis.call('DEL', M, X) end
return left
"#;

/// `ARGV[3]` microseconds to move the namespace's clock by, `ARGV[4]` the most the offset may
/// reach, `ARGV[5] == 'freeze'` to stop the clock from following real time first (a manual
/// clock, from the current logical time on). Returns the new offset.
const CLOCK: &str = r#"
if ARGV[5] == 'freeze' and not redis.call('HGET', M, 'base') then
  local t = redis.call('TIME')
  redis.call('HSET', M, 'base', fmt(tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
local off = tonumber(redis.call('HGET', M, 'off') or '0')
local new = math.min(off + tonumber(ARGV[3]), tonumber(ARGV[4]))
redis.call('HSET', M, 'off', fmt(new))
return new
"#;

/// The compiled scripts (each keeps its SHA1, so calls are `EVALSHA`, loading on `NOSCRIPT`).
pub(crate) struct Scripts {
    pub put: Script,
    pub get: Script,
    pub near_get: Script,
    pub get_or_insert: Script,
    pub has: Script,
    pub del: Script,
    pub remove: Script,
    pub remove_prefix: Script,
    pub dump: Script,
    pub purge: Script,
    pub set_capacity: Script,
    pub clear: Script,
    pub clock: Script,
}

impl Scripts {
    fn new() -> Self {
        let s = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Self {
            put: s(PUT),
            get: s(GET),
            near_get: s(NEAR_GET),
            get_or_insert: s(GET_OR_INSERT),
            has: s(HAS),
            del: s(DEL),
            remove: s(REMOVE),
            remove_prefix: s(REMOVE_PREFIX),
            dump: s(DUMP),
            purge: s(PURGE),
            set_capacity: s(SET_CAPACITY),
            clear: s(CLEAR),
            clock: s(CLOCK),
        }
    }

    /// The scripts, compiled (hashed) once per process.
    pub(crate) fn get() -> &'static Scripts {
        static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
        SCRIPTS.get_or_init(Scripts::new)
    }
}
