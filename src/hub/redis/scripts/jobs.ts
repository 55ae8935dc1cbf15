/**
 * Lua transitions of jobs: submit, reject, claim, release, settle, progress, cancel. Each runs as
 * one script, so it is atomic on the server; arguments are strings, optional ones `''` when
 * absent and `'+' .. value` when present (see `opt` in the prelude).
 */
import { TaskStatus } from "../../../../generated/constants.js";
import { PRELUDE } from "./prelude.js";

/**
 * Creates the job hash (shared by submit and reject). ARGV: 1 jobId, 2 type, 3 queue, 4 priority,
 * 5 deadline?, 6 maxRetries, 7 owner?, 8 idempotencyKey?, 9 blob, 10 requirements.
 */
const CREATE = `
local id = ARGV[1]
local owner = opt(ARGV[7])
local idem = opt(ARGV[8])
local ikey
-- A job id already known is that job: never a second record (and a ghost queue entry) for it.
if redis.call('EXISTS', jk(id)) == 1 then return {'existing', rec(id)} end
if idem then
  ikey = (owner or '') .. '\\0' .. idem
  local known = redis.call('HGET', B .. 'idem', ikey)
  if known and redis.call('EXISTS', jk(known)) == 1 then return {'existing', rec(known)} end
end
`;

const CREATE_RECORD = `
local seq = fmt(redis.call('INCR', B .. 'seq'))
local k = jk(id)
local j = {id = id, type = ARGV[2], queue = ARGV[3], prio = ARGV[4], maxr = ARGV[6], task = id .. '_0', gen = '0', att = '0',
  state = 'waiting_for_worker', seq = seq, sub = fmt(now()), dl = opt(ARGV[5]), owner = owner, idem = idem}
local dl = j.dl
local s = cjson.encode(j)
redis.call('HSET', k, 's', s, 'blob', ARGV[9], 'req', ARGV[10])
redis.call('ZADD', B .. 'jobs', seq, id)
if ikey then redis.call('HSET', B .. 'idem', ikey, id) end
`;

/** Hands a waiting job to worker `wid`: running, leased, one more attempt. */
const TAKE = `
local function take(j, wid)
  dequeue(j)
  j.state = 'running'
  j.wid = wid
  j.att = fmt(tonumber(j.att) + 1)
  j.disp = fmt(now())
  j.lms = nil
  save(j)
  redis.call('SADD', B .. 'l:' .. wid, j.id)
  redis.call('SADD', B .. 'run', j.id)
  -- A worker the store does not know (forgotten between the hub's look at it and this claim)
  -- would hold this lease forever: due for expiry now, so the next sweep gives the task back.
  if redis.call('EXISTS', B .. 'w:' .. wid) == 0 then redis.call('ZADD', B .. 'we', now(), wid) end
end
`;

/**
 * Submit. ARGV 11..14: limits total?, perSkill?, perOwner?, classesPerSkill?; 15 handTo? (a
 * worker to claim the job for at once when its queue is empty and the worker registered). Answers
 * {'created'|'existing', job} or {'refused', scope, limit}.
 */
export const SUBMIT = `${PRELUDE}${TAKE}${CREATE}
local total = opt(ARGV[11])
if total and tonumber(redis.call('GET', B .. 'wt') or '0') >= tonumber(total) then return {'refused', 'total', total} end
local per_skill = opt(ARGV[12])
if per_skill and tonumber(redis.call('HGET', B .. 'ws', ARGV[2]) or '0') >= tonumber(per_skill) then return {'refused', 'skill', per_skill} end
local per_owner = opt(ARGV[13])
if per_owner and owner and tonumber(redis.call('HGET', B .. 'wo', owner) or '0') >= tonumber(per_owner) then return {'refused', 'owner', per_owner} end
local classes = opt(ARGV[14])
if classes and redis.call('SISMEMBER', B .. 'qs:' .. ARGV[2], ARGV[3]) == 0 and redis.call('SCARD', B .. 'qs:' .. ARGV[2]) >= tonumber(classes) then return {'refused', 'classes', classes} end
${CREATE_RECORD}
if dl then redis.call('ZADD', B .. 'dl', dl, id) end
local hand = opt(ARGV[15])
if hand and redis.call('EXISTS', B .. 'q:' .. j.queue) == 0 and redis.call('EXISTS', B .. 'w:' .. hand) == 1 then
  -- Nothing waits ahead of it: claimed now, never queued (take's dequeue finds no entry).
  take(j, hand)
  return {'created', {'s', cjson.encode(j), 'blob', ARGV[9], 'req', ARGV[10]}}
end
enqueue(j, ARGV[10])
-- The record as just written (what HGETALL would answer).
return {'created', {'s', s, 'blob', ARGV[9], 'req', ARGV[10]}}
`;

/** Reject: a job that ends at once. ARGV 11: the error (JSON). */
export const REJECT = `${PRELUDE}${CREATE}
${CREATE_RECORD}
finish(j, {state = 'failed', status = '${TaskStatus.FAILURE}', err = ARGV[11], endr = 'rejected'})
return {'created', rec(id)}
`;

/** Claim the first still-waiting job. ARGV: 1 workerId, 2.. candidate job ids. */
export const CLAIM = `${PRELUDE}${TAKE}
local wid = ARGV[1]
for i = 2, #ARGV do
  local j = load_waiting(ARGV[i])
  if j then
    take(j, wid)
    return rec(j.id)
  end
end
return false
`;

/**
 * Claim the best head of the runnable queues, when every queue of the skills holding tasks is
 * named. ARGV: 1 workerId, 2 head entries to answer with `look`, 3 number of skills n, 4..3+n
 * skills, then queue names marked '+' (runnable) or '-' (skipped). Answers {'claimed', job},
 * {'none'}, or {'look', then per queue of the skills holding tasks: name, skill, length,
 * requirements JSON, {member, score, ...}} (what QUEUES_OF answers, so the caller looks on
 * without another round trip).
 */
export const CLAIM_BEST = `${PRELUDE}${TAKE}
local wid = ARGV[1]
local n = tonumber(ARGV[3])
local mark = {}
-- Runnable marks come first and win over a skipped mark of the same queue (as in MemoryStore).
for i = 4 + n, #ARGV do
  local name = string.sub(ARGV[i], 2)
  if not mark[name] then mark[name] = string.sub(ARGV[i], 1, 1) end
end
local best, bscore
local look = false
for i = 4, 3 + n do
  -- A skill lists only queues that hold tasks (dequeue drops an emptied one).
  for _, name in ipairs(redis.call('SMEMBERS', B .. 'qs:' .. ARGV[i])) do
    local m = mark[name]
    if m == '+' then
      local h = redis.call('ZRANGE', B .. 'q:' .. name, 0, 0, 'WITHSCORES')
      if h[1] then
        local sc = tonumber(h[2])
        if not best or sc < bscore or (sc == bscore and h[1] < best) then best, bscore = h[1], sc end
      end
    elseif m ~= '-' then
      look = true
    end
  end
end
if not look then
  if not best then return {'none'} end
  -- A queue member is the zero-padded seq, ':', the job id.
  local j = load_waiting(string.match(best, '^%d+:(.*)$'))
  if j then
    take(j, wid)
    return {'claimed', rec(j.id)}
  end
end
local head = tonumber(ARGV[2])
local out = {'look'}
for i = 4, 3 + n do
  for _, name in ipairs(redis.call('SMEMBERS', B .. 'qs:' .. ARGV[i])) do
    local qk = B .. 'q:' .. name
    local len = redis.call('ZCARD', qk)
    if len > 0 then
      out[#out + 1] = name
      out[#out + 1] = ARGV[i]
      out[#out + 1] = len
      out[#out + 1] = redis.call('HGET', B .. 'qi', name) or '{}'
      out[#out + 1] = head > 0 and redis.call('ZRANGE', qk, 0, head - 1, 'WITHSCORES') or {}
    end
  end
end
return out
`;

/** Release (not counted). ARGV: 1 jobId, 2 taskId. */
export const RELEASE = `${PRELUDE}
local j = load(ARGV[1])
if not j or j.state ~= 'running' or j.task ~= ARGV[2] then return false end
requeue(j, false, nil, nil)
return rec(j.id)
`;

/**
 * Settle. ARGV: 1 workerId, 2 jobId, 3 taskId, 4 status, 5 data?, 6 error?, 7 retry ('1'/'0'),
 * 8 transition, 9 fingerprint?, 10 replay-memory key?, 11 its lifetime in ms. Answers {kind,
 * transition or reason, job?, 1 when this call ended the job?}, or {'replay'} when the key was
 * already remembered (then nothing else is read or written).
 */
export const SETTLE = `${PRELUDE}
local wid, id, task = ARGV[1], ARGV[2], ARGV[3]
local once = opt(ARGV[10])
if once and not redis.call('SET', B .. 'r:' .. once, '1', 'PX', ARGV[11], 'NX') then return {'replay'} end
local fp = opt(ARGV[9])
local j = load(id)
if not j then return {'ignored', 'job_not_found'} end
if j.stask == task and j.swid == wid and j.sfp == fp then return {'duplicate', j.strans, rec(id)} end
if task ~= j.task then return {'ignored', 'stale_task', rec(id)} end
if terminal(j.state) then
  local reason = 'job_already_terminated'
  if j.state == 'cancelled' then reason = 'job_cancelled' elseif j.endr == 'deadline' then reason = 'deadline_exceeded' end
  return {'ignored', reason, rec(id)}
end
if j.state ~= 'running' or j.wid ~= wid then return {'ignored', 'worker_mismatch', rec(id)} end
if j.dl and now() > tonumber(j.dl) then
  finish(j, {state = 'failed', status = '${TaskStatus.FAILURE}', err = timeout_error(), endr = 'deadline'})
  return {'ignored', 'deadline_exceeded', rec(id), 1}
end
local status, data, err = ARGV[4], opt(ARGV[5]), opt(ARGV[6])
-- The settled result's identity, fingerprint included (a previous attempt's must not linger);
-- written with the transition below.
j.stask, j.swid, j.strans, j.sfp = task, wid, ARGV[8], fp
if ARGV[7] == '1' then
  requeue(j, true, err, wid)
  return {'accepted', ARGV[8], rec(id)}
end
local state = 'finished'
if status == '${TaskStatus.CANCELLED}' then state = 'cancelled' elseif status == '${TaskStatus.FAILURE}' then state = 'failed' end
local e = {state = state, status = status, rwid = wid, data = data, err = err}
if state == 'failed' then e.endr = 'error' end
finish(j, e)
return {'accepted', ARGV[8], rec(id)}
`;

/** Progress. ARGV: 1 workerId, 2 jobId, 3 taskId?, 4 progress. */
export const PROGRESS = `${PRELUDE}
local j = load(ARGV[2])
if not j or j.state ~= 'running' or j.wid ~= ARGV[1] then return 0 end
local task = opt(ARGV[3])
if task and task ~= j.task then return 0 end
redis.call('HSET', jk(j.id), 'prog', ARGV[4])
return 1
`;

/** Cancel. ARGV: 1 jobId, 2 owner?, 3 cancel grace ms. Answers {kind, job?}. */
export const CANCEL = `${PRELUDE}
local j = load(ARGV[1])
local owner = opt(ARGV[2])
if not j or (owner and j.owner ~= owner) then return {'none'} end
if terminal(j.state) then return {'none', rec(j.id)} end
if j.state == 'waiting_for_worker' then
  finish(j, {state = 'cancelled', status = '${TaskStatus.CANCELLED}'})
  return {'ended', rec(j.id)}
end
if not j.creq then
  local t = now()
  j.creq = fmt(t)
  save(j)
  redis.call('ZADD', B .. 'cd', t + tonumber(ARGV[3]), j.id)
end
emit({type = 'cancel', workerId = j.wid, jobId = j.id, taskId = j.task})
return {'requested', rec(j.id)}
`;

/**
 * One pass over what is due. ARGV: 1 limit, 2 retention ms, 3 most retained.
 * Answers {deadline jobs, cancelled jobs, forgotten count}.
 */
export const SWEEP = `${PRELUDE}
local limit = tonumber(ARGV[1])
local t = now()
local deadline, cancelled = {}, {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', B .. 'dl', '-inf', t, 'LIMIT', 0, limit)) do
  redis.call('ZREM', B .. 'dl', id)
  local j = load(id)
  if j and not terminal(j.state) then
    finish(j, {state = 'failed', status = '${TaskStatus.FAILURE}', err = timeout_error(), endr = 'deadline'})
    deadline[#deadline + 1] = rec(id)
  end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', B .. 'cd', '-inf', t, 'LIMIT', 0, limit)) do
  redis.call('ZREM', B .. 'cd', id)
  local j = load(id)
  if j and j.state == 'running' and j.creq then
    finish(j, {state = 'cancelled', status = '${TaskStatus.CANCELLED}'})
    cancelled[#cancelled + 1] = rec(id)
  end
end
local retention, most = tonumber(ARGV[2]), tonumber(ARGV[3])
local forgotten = 0
local count = redis.call('LLEN', B .. 'ended')
while forgotten < limit and count > 0 do
  local id = redis.call('LINDEX', B .. 'ended', 0)
  local j = load(id)
  if count <= most and j and j.fin and t - tonumber(j.fin) < retention then break end
  redis.call('LPOP', B .. 'ended')
  count = count - 1
  if j and terminal(j.state) then
    redis.call('DEL', jk(id))
    redis.call('ZREM', B .. 'jobs', id)
    if j.idem then
      local ikey = (j.owner or '') .. '\\0' .. j.idem
      if redis.call('HGET', B .. 'idem', ikey) == id then redis.call('HDEL', B .. 'idem', ikey) end
    end
    forgotten = forgotten + 1
  end
end
return {deadline, cancelled, forgotten}
`;

/**
 * A page of jobs, newest first (a read). ARGV: 1 start score ('+inf' or '(' .. seq), 2 most to
 * scan, 3 most to answer, 4 state?, 5 type?, 6 workerId?, 7 owner?.
 * Answers {more (0/1), last scanned score, jobs...}.
 */
export const LIST_JOBS = `
local B = KEYS[1]
local function opt(s) if s == nil or s == '' then return nil end return string.sub(s, 2) end
local state, typ, wid, owner = opt(ARGV[4]), opt(ARGV[5]), opt(ARGV[6]), opt(ARGV[7])
local limit = tonumber(ARGV[3])
local ids = redis.call('ZREVRANGEBYSCORE', B .. 'jobs', ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {0, ''}
local last
for i = 1, #ids, 2 do
  local id = ids[i]
  last = ids[i + 1]
  local s = redis.call('HGET', B .. 'j:' .. id, 's')
  local v = s and cjson.decode(s)
  if v and (not state or v.state == state) and (not typ or v.type == typ) and (not wid or v.wid == wid) and (not owner or v.owner == owner) then
    out[#out + 1] = redis.call('HGETALL', B .. 'j:' .. id)
    if #out - 2 >= limit then break end
  end
end
if last then
  out[2] = last
  if redis.call('ZCOUNT', B .. 'jobs', '-inf', '(' .. last) > 0 then out[1] = 1 end
end
return out
`;

/**
 * The queues of a skill that hold tasks, each with its head (a read, one round trip).
 * ARGV: 1 skill, 2 entries of each queue's head to answer. Answers a flat list:
 * name, length, requirements JSON, {member, score, ...}, ...
 */
export const QUEUES_OF = `
local B = KEYS[1]
local head = tonumber(ARGV[2])
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', B .. 'qs:' .. ARGV[1])) do
  local qk = B .. 'q:' .. name
  local n = redis.call('ZCARD', qk)
  if n > 0 then
    out[#out + 1] = name
    out[#out + 1] = n
    out[#out + 1] = redis.call('HGET', B .. 'qi', name) or '{}'
    out[#out + 1] = head > 0 and redis.call('ZRANGE', qk, 0, head - 1, 'WITHSCORES') or {}
  end
end
return out
`;
