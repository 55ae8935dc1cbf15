/**
 * Lua shared by every transition script: key names, the store's clock, queue and lease
 * bookkeeping, and the two ways a running job leaves its worker (ended, or queued again).
 *
 * Layout (B is `{prefix}:`, one hash tag so every key lives in one cluster slot):
 * - `B j:<jobId>` hash: the job. Field `s` holds its scalar fields as one JSON object whose values
 *   are all strings, read with one HGET and written with one HSET per transition: id, type, queue,
 *   prio, maxr (max retries), task, gen, att (attempts), state, seq, sub (submitted at), and when
 *   set dl (deadline), owner, idem, wid (lease holder), disp (dispatched at), lms (lease missing
 *   since), fin, creq (cancel requested at), endr (end reason), status, rwid (result worker),
 *   stask / swid / strans / sfp (the settled result's task, worker, transition, fingerprint).
 *   `blob` (params, metadata, trace, parent), `req` (requirements), `data` and `err` are JSON
 *   written by the hub and never decoded here (cjson would turn `[]` into `{}` and round big
 *   integers); `prog` is the last progress.
 * - `B jobs` zset seq -> jobId (listing), `B idem` hash owner\0key -> jobId.
 * - `B q:<queue>` zset, score -priority, member zero-padded seq `:` jobId (ties order by member,
 *   so FIFO within a priority); `B qs:<skill>` set of queues; `B qi` hash queue -> requirements.
 * - `B wt` / `B ws` / `B wo`: waiting counters (total, per skill, per owner).
 * - `B l:<workerId>` set of leased job ids, `B run` set of every running job id (its size is the
 *   running count; a set, not a counter, so a job can be counted once only); `B dl` deadlines and `B cd` cancel grace: zsets by due
 *   time; `B ended` list of ended jobs in end order (retention): sweeps read only what is due.
 * - `B w:<workerId>` hash of JSON fields; `B wk` zset (lexical listing), `B we` zset by expiry;
 *   `B swept` / `B resumed`: when worker expiry last ran, and when the last pause between two of
 *   its runs ended (store time, ms).
 * - `B c:<skill>` contracts, `B t:<hash>` tokens, `B r:<key>` replay memory, `B signals` channel.
 */
import { ErrorCode, TaskStatus } from "../../../../generated/constants.js";

/**
 * Most bytes of field values a job hash may hold for its `ended` signal to carry it (field `rec`,
 * the flat HGETALL list); a larger one is signalled bare and read by whoever needs it.
 */
export const ENDED_RECORD_MAX = 4096;

/** Lua prelude; every script starts with it and uses `KEYS[1]` as the key base. */
export const PRELUDE = `
local B = KEYS[1]
local NOW
local function now()
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end
local function fmt(n) return string.format('%.0f', n) end
local function opt(s) if s == nil or s == '' then return nil end return string.sub(s, 2) end
local function jk(id) return B .. 'j:' .. id end
local function emit(sig) redis.call('PUBLISH', B .. 'signals', cjson.encode(sig)) end
-- The hash finish just read for its signal, handed to the script's next rec() of that job (the
-- answer most ending scripts give) instead of a second HGETALL. save() drops it; a script that
-- writes an ended job's hash after finish other than through save must clear ENDED_ID too.
local ENDED_ID, ENDED_REC
local function rec(id)
  if id == ENDED_ID then
    local r = ENDED_REC
    ENDED_ID, ENDED_REC = nil, nil
    return r
  end
  return redis.call('HGETALL', jk(id))
end
local function terminal(state) return state == 'finished' or state == 'failed' or state == 'cancelled' end

-- A job's scalar fields (every value a string), or nil when there is no such job.
local function load(id)
  local s = redis.call('HGET', jk(id), 's')
  if not s then return nil end
  return cjson.decode(s)
end
-- Only a job still waiting: the cheap text test first (cjson writes '"state":"waiting_for_worker"'
-- for that state and nothing else can hold that text: a quote inside a string is escaped).
local function load_waiting(id)
  local s = redis.call('HGET', jk(id), 's')
  if not s or not string.find(s, '"state":"waiting_for_worker"', 1, true) then return nil end
  local j = cjson.decode(s)
  if j.state ~= 'waiting_for_worker' then return nil end
  return j
end
local function save(j)
  ENDED_ID, ENDED_REC = nil, nil
  redis.call('HSET', jk(j.id), 's', cjson.encode(j))
end

local function qmember(j) return string.rep('0', 16 - #j.seq) .. j.seq .. ':' .. j.id end

-- req: the job's requirements JSON when the caller has it (else read from the record).
local function enqueue(j, req)
  redis.call('ZADD', B .. 'q:' .. j.queue, -tonumber(j.prio), qmember(j))
  -- A queue is listed for its skill and has its class in qi together (dequeue drops both), so
  -- only a newly listed queue needs its class written.
  if redis.call('SADD', B .. 'qs:' .. j.type, j.queue) == 1 then
    redis.call('HSETNX', B .. 'qi', j.queue, req or redis.call('HGET', jk(j.id), 'req'))
  end
  redis.call('INCR', B .. 'wt')
  redis.call('HINCRBY', B .. 'ws', j.type, 1)
  if j.owner then redis.call('HINCRBY', B .. 'wo', j.owner, 1) end
  emit({type = 'queued', queue = j.queue, skill = j.type})
end

local function dequeue(j)
  local qk = B .. 'q:' .. j.queue
  if redis.call('ZREM', qk, qmember(j)) == 0 then return end
  redis.call('DECR', B .. 'wt')
  if redis.call('HINCRBY', B .. 'ws', j.type, -1) <= 0 then redis.call('HDEL', B .. 'ws', j.type) end
  if j.owner and redis.call('HINCRBY', B .. 'wo', j.owner, -1) <= 0 then redis.call('HDEL', B .. 'wo', j.owner) end
  if redis.call('EXISTS', qk) == 0 then
    redis.call('SREM', B .. 'qs:' .. j.type, j.queue)
    redis.call('HDEL', B .. 'qi', j.queue)
  end
end

local function unlease(j)
  if j.wid then redis.call('SREM', B .. 'l:' .. j.wid, j.id) end
  redis.call('SREM', B .. 'run', j.id)
end

local END_FIELDS = {'endr', 'rwid', 'stask', 'swid', 'strans'}
local ENDED_RECORD_MAX = ${ENDED_RECORD_MAX}
-- Ends a job: e holds state, status and optionally the END_FIELDS, data and err (JSON text).
local function finish(j, e)
  if j.state == 'waiting_for_worker' then dequeue(j) elseif j.state == 'running' then unlease(j) end
  j.state = e.state
  j.status = e.status
  j.fin = fmt(now())
  j.lms = nil
  for _, name in ipairs(END_FIELDS) do
    if e[name] then j[name] = e[name] end
  end
  local f = {'s', cjson.encode(j)}
  if e.data then f[#f + 1] = 'data'; f[#f + 1] = e.data end
  if e.err then f[#f + 1] = 'err'; f[#f + 1] = e.err end
  redis.call('HSET', jk(j.id), unpack(f))
  -- Deadline and cancel-grace entries exist only for jobs with a deadline or a pending cancel.
  if j.dl then redis.call('ZREM', B .. 'dl', j.id) end
  if j.creq then redis.call('ZREM', B .. 'cd', j.id) end
  redis.call('RPUSH', B .. 'ended', j.id)
  -- The signal carries a small record, so a hub waiting for this job on another process needs no
  -- read; a large one (a big result) would cost every hub hearing it, so they read it instead.
  -- The hash is never empty here (s was just written), so cjson never meets an empty table.
  local all = redis.call('HGETALL', jk(j.id))
  local size = 0
  for i = 2, #all, 2 do size = size + #all[i] end
  if size <= ENDED_RECORD_MAX then
    emit({type = 'ended', jobId = j.id, rec = all})
  else
    emit({type = 'ended', jobId = j.id})
  end
  ENDED_ID, ENDED_REC = j.id, all
end

local function timeout_error()
  return cjson.encode({code = '${ErrorCode.TIMEOUT_ERROR}', message = 'Task deadline exceeded'})
end

-- A running job goes back: ended when a cancel is pending or counted retries are used up,
-- else queued again under a new task id.
local function requeue(j, counted, err, rwid)
  if j.creq then
    finish(j, {state = 'cancelled', status = '${TaskStatus.CANCELLED}'})
    return
  end
  local att = tonumber(j.att)
  if counted and att > tonumber(j.maxr) then
    local e = {state = 'failed', status = '${TaskStatus.FAILURE}', rwid = rwid}
    if err then
      e.err = err
      e.endr = 'error'
    else
      e.err = cjson.encode({code = '${ErrorCode.TRANSIENT_ERROR}', message = 'Task failed after ' .. fmt(att) .. ' attempts (worker lost)'})
      e.endr = 'lost'
    end
    finish(j, e)
    return
  end
  unlease(j)
  if not counted then att = math.max(0, att - 1) end
  j.gen = fmt(tonumber(j.gen) + 1)
  j.task = j.id .. '_' .. j.gen
  j.att = fmt(att)
  j.state = 'waiting_for_worker'
  j.wid = nil
  j.disp = nil
  j.lms = nil
  save(j)
  enqueue(j, nil)
end
`;
