/**
 * Lua transitions of workers: register, heartbeat (with lease reconciliation), touch, drain,
 * remove and expire, plus the token write. Worker hashes hold one JSON value per field, written
 * by the hub; scripts only write `lastSeenAt`/`expiresAt` (integers, valid JSON) and `drained`.
 */
import { PRELUDE } from "./prelude.js";

const FORGET = `
local function forget(wid)
  redis.call('DEL', B .. 'w:' .. wid)
  redis.call('ZREM', B .. 'wk', wid)
  redis.call('ZREM', B .. 'we', wid)
  local released = {}
  local lk = B .. 'l:' .. wid
  for _, id in ipairs(redis.call('SMEMBERS', lk)) do
    local j = load(id)
    if j and j.state == 'running' and j.wid == wid then
      requeue(j, true, nil, nil)
      released[#released + 1] = rec(id)
    end
  end
  redis.call('DEL', lk)
  emit({type = 'worker', workerId = wid})
  return {wid, released}
end
`;

/**
 * Register. ARGV: 1 workerId, 2 number of field/value pairs n, 3 '1' to leave the worker's leases
 * as they are (else they are marked unconfirmed), 4..3+2n the pairs, then contract triples
 * (skill, key, info JSON). Answers the previous record's fields (empty when new).
 */
export const REGISTER = `${PRELUDE}
local wid = ARGV[1]
local wk = B .. 'w:' .. wid
local prev = redis.call('HGETALL', wk)
local prev_reg = redis.call('HGET', wk, 'registeredAt')
local prev_drained = redis.call('HGET', wk, 'drained')
redis.call('DEL', wk)
local n = tonumber(ARGV[2])
local f = {}
for i = 4, 3 + 2 * n do f[#f + 1] = ARGV[i] end
redis.call('HSET', wk, unpack(f))
if prev_reg then redis.call('HSET', wk, 'registeredAt', prev_reg) end
redis.call('HSET', wk, 'lastSeenAt', fmt(now()))
if prev_drained == 'true' and redis.call('HEXISTS', wk, 'drained') == 0 then redis.call('HSET', wk, 'drained', 'true') end
redis.call('ZADD', B .. 'we', tonumber(redis.call('HGET', wk, 'expiresAt')), wid)
redis.call('ZADD', B .. 'wk', 0, wid)
if ARGV[3] ~= '1' then
  for _, id in ipairs(redis.call('SMEMBERS', B .. 'l:' .. wid)) do
    local j = load(id)
    if j and j.state == 'running' and j.wid == wid and not j.lms then
      j.lms = fmt(now())
      save(j)
    end
  end
end
for i = 4 + 2 * n, #ARGV, 3 do redis.call('HSETNX', B .. 'c:' .. ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
emit({type = 'worker', workerId = wid})
return prev
`;

/**
 * Heartbeat. ARGV: 1 workerId, 2 ttl ms, 3 lease grace ms, 4 '1' when current tasks were given,
 * 5 number of field/value pairs n, 6..5+2n the pairs, then the current task entries.
 * Answers false for an unknown worker, else {worker fields, cancel entries, released jobs}.
 */
export const HEARTBEAT = `${PRELUDE}
local wid = ARGV[1]
local wk = B .. 'w:' .. wid
if redis.call('EXISTS', wk) == 0 then return false end
local t = now()
local n = tonumber(ARGV[5])
local f = {'lastSeenAt', fmt(t), 'expiresAt', fmt(t + tonumber(ARGV[2]))}
for i = 6, 5 + 2 * n do f[#f + 1] = ARGV[i] end
redis.call('HSET', wk, unpack(f))
redis.call('ZADD', B .. 'we', t + tonumber(ARGV[2]), wid)
local grace = tonumber(ARGV[3])
local listed
if ARGV[4] == '1' then
  listed = {}
  for i = 6 + 2 * n, #ARGV do listed[ARGV[i]] = true end
end
local cancel, released, seen = {}, {}, {}
local lk = B .. 'l:' .. wid
for _, id in ipairs(redis.call('SMEMBERS', lk)) do
  local j = load(id)
  if not j or j.state ~= 'running' or j.wid ~= wid then
    redis.call('SREM', lk, id)
  else
    local by_task = listed ~= nil and listed[j.task] == true
    local by_job = listed ~= nil and listed[j.id] == true
    if by_task then seen[j.task] = true end
    if by_job then seen[j.id] = true end
    if j.creq then
      if by_task or not by_job then cancel[#cancel + 1] = j.task end
      if by_job then cancel[#cancel + 1] = j.id end
    end
    if listed then
      if by_task or by_job then
        if j.lms then
          j.lms = nil
          save(j)
        end
      else
        local since = tonumber(j.lms or '')
        if not since then
          since = t
          j.lms = fmt(t)
          save(j)
        end
        if t - since > grace then
          requeue(j, true, nil, nil)
          released[#released + 1] = rec(id)
        end
      end
    end
  end
end
if listed then
  for i = 6 + 2 * n, #ARGV do
    local entry = ARGV[i]
    if not seen[entry] then
      seen[entry] = true
      local j = load(entry)
      if not j then
        local job_id = string.match(entry, '^(.+)_%d+$')
        if job_id then j = load(job_id) end
      end
      if j and (j.state ~= 'running' or j.wid ~= wid or (entry ~= j.id and entry ~= j.task)) then cancel[#cancel + 1] = entry end
    end
  end
end
return {redis.call('HGETALL', wk), cancel, released}
`;

/** Touch. ARGV: 1 workerId, 2 ttl ms. */
export const TOUCH = `${PRELUDE}
local wk = B .. 'w:' .. ARGV[1]
if redis.call('EXISTS', wk) == 0 then return 0 end
local t = now()
local until_ms = t + tonumber(ARGV[2])
redis.call('HSET', wk, 'lastSeenAt', fmt(t), 'expiresAt', fmt(until_ms))
redis.call('ZADD', B .. 'we', until_ms, ARGV[1])
return 1
`;

/** Drain. ARGV: 1 workerId, 2 '1' to drain, '0' to undo. */
export const DRAIN = `${PRELUDE}
local wk = B .. 'w:' .. ARGV[1]
if redis.call('EXISTS', wk) == 0 then return 0 end
if ARGV[2] == '1' then redis.call('HSET', wk, 'drained', 'true') else redis.call('HDEL', wk, 'drained') end
emit({type = 'worker', workerId = ARGV[1]})
return 1
`;

/** Remove a worker now. ARGV: 1 workerId. Answers false when unknown, else {workerId, released}. */
export const REMOVE_WORKER = `${PRELUDE}${FORGET}
if redis.call('EXISTS', B .. 'w:' .. ARGV[1]) == 0 then return false end
return forget(ARGV[1])
`;

/**
 * Expire workers past their lifetime. ARGV: 1 limit, 2 pause length in ms (0: no pause rule; see
 * HubStore.expireWorkers). Answers a list of {workerId, released}.
 */
export const EXPIRE_WORKERS = `${PRELUDE}${FORGET}
local t = now()
local pause = tonumber(ARGV[2])
local resumed = tonumber(redis.call('GET', B .. 'resumed') or '')
if pause > 0 then
  local swept = tonumber(redis.call('GET', B .. 'swept') or '')
  if swept and t - swept > pause then
    resumed = t
    redis.call('SET', B .. 'resumed', fmt(t))
  end
  redis.call('SET', B .. 'swept', fmt(t))
end
local gone = {}
for _, wid in ipairs(redis.call('ZRANGEBYSCORE', B .. 'we', '-inf', t, 'LIMIT', 0, tonumber(ARGV[1]))) do
  local wk = B .. 'w:' .. wid
  local exp = tonumber(redis.call('HGET', wk, 'expiresAt') or '')
  local seen = tonumber(redis.call('HGET', wk, 'lastSeenAt') or '')
  local again = (resumed and exp and seen) and resumed + (exp - seen) or nil
  if again and exp <= resumed and again > t then
    -- Its lifetime ended while nobody could hear it (a pause): once more, from the pause's end.
    redis.call('HSET', wk, 'expiresAt', fmt(again))
    redis.call('ZADD', B .. 'we', again, wid)
  else
    gone[#gone + 1] = forget(wid)
  end
end
return gone
`;

/** Store a token until its expiry (by the store's clock). ARGV: 1 hash, 2 JSON, 3 expiresAt. */
export const PUT_TOKEN = `${PRELUDE}
local k = B .. 't:' .. ARGV[1]
local at = tonumber(ARGV[3])
if at <= now() then redis.call('DEL', k) return 0 end
redis.call('SET', k, ARGV[2], 'PXAT', fmt(at))
return 1
`;
