import type { Redis } from '../../../shared/src/redis';

/**
 * Seat counters, holds, waitlist positions and permits of one section in Redis.
 * PostgreSQL is the truth; this is a cache the door uses to answer at once and
 * that is rebuilt from PostgreSQL whenever it is missing.
 *
 * Keys (all carry the process's key prefix; {sid} keeps a section's keys in one
 * cluster slot):
 *   seat:{sid}    hash: cap, wlcap, enrolled, waitlisted, open
 *   hold:{sid}    zset: registration id -> hold expiry (ms); seats promised to PENDING requests
 *   wlhold:{sid}  zset: registration id -> expiry; PENDING requests heading for the waitlist
 *   live:{sid}    set: students with a PENDING, ENROLLED or WAITLISTED registration
 *   wl:{sid}      zset: student -> waitlist sequence (arrival order)
 *   perm:{sid}    set: students with an unused capacity override
 *   req:{sid}:<student>:<request id>  the registration a request created (repeats answer with it)
 */
export interface SeatSnapshot {
  capacity: number;
  waitlistCapacity: number;
  enrolled: number;
  waitlisted: number;
  open: boolean;
  pendingSeatHolds: { registrationId: string; expiresAt: number }[];
  pendingWaitlistHolds: { registrationId: string; expiresAt: number }[];
  liveStudents: string[];
  waitlist: { studentId: string; seq: number }[];
  permits: string[];
}

export type HoldOutcome =
  | { kind: 'SEAT' }
  | { kind: 'WAITLIST' }
  | { kind: 'OVERRIDE' }
  | { kind: 'FULL' }
  | { kind: 'CLOSED' }
  | { kind: 'LIVE' }
  | { kind: 'MISSING' }
  | { kind: 'REPEAT'; registrationId: string };

/** What a committed decision changed for one section, applied to Redis afterwards. */
export interface SeatChange {
  sectionId: string;
  enrolled: number;
  waitlisted: number;
  releaseHolds: string[];
  /** Students whose registration in the section is no longer live. */
  leave: string[];
  /** Students who got a live registration without passing the door (swap, registrar). */
  join: string[];
  waitlistAdd: { studentId: string; seq: number }[];
  waitlistRemove: string[];
  permitsUsed: string[];
}

const reqKey = (sid: string, student: string, requestId: string) => `req:{${sid}}:${student}:${requestId}`;
const keys = (sid: string) => [`seat:{${sid}}`, `hold:{${sid}}`, `wlhold:{${sid}}`, `live:{${sid}}`, `wl:{${sid}}`, `perm:{${sid}}`];

// KEYS: seat hold wlhold live wl perm req; ARGV: student, registration id, now ms, hold ms
const HOLD = `
local earlier = redis.call('GET', KEYS[7])
if earlier then return 'REPEAT:' .. earlier end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'MISSING' end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return 'LIVE' end
local s = redis.call('HMGET', KEYS[1], 'cap', 'wlcap', 'enrolled', 'waitlisted', 'open')
if s[5] ~= '1' then return 'CLOSED' end
local now = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local expires = now + tonumber(ARGV[4])
local outcome
if tonumber(s[3]) + redis.call('ZCARD', KEYS[2]) < tonumber(s[1]) then
  redis.call('ZADD', KEYS[2], expires, ARGV[2]); outcome = 'SEAT'
elseif redis.call('SISMEMBER', KEYS[6], ARGV[1]) == 1 then
  outcome = 'OVERRIDE'
elseif tonumber(s[4]) + redis.call('ZCARD', KEYS[3]) < tonumber(s[2]) then
  redis.call('ZADD', KEYS[3], expires, ARGV[2]); outcome = 'WAITLIST'
else
  return 'FULL'
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('SET', KEYS[7], ARGV[2], 'EX', 86400)
return outcome
`;

// KEYS: as HOLD; ARGV: student, registration id
const RELEASE = `
if redis.call('GET', KEYS[7]) == ARGV[2] then redis.call('DEL', KEYS[7]) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[1])
return 1
`;

// KEYS: as HOLD; ARGV: json change. Skips everything when the section is not loaded.
const APPLY = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local c = cjson.decode(ARGV[1])
redis.call('HSET', KEYS[1], 'enrolled', c.enrolled, 'waitlisted', c.waitlisted)
for _, id in ipairs(c.releaseHolds) do redis.call('ZREM', KEYS[2], id); redis.call('ZREM', KEYS[3], id) end
for _, st in ipairs(c.leave) do redis.call('SREM', KEYS[4], st) end
for _, st in ipairs(c.join) do redis.call('SADD', KEYS[4], st) end
for _, w in ipairs(c.waitlistAdd) do redis.call('ZADD', KEYS[5], w.seq, w.studentId) end
for _, st in ipairs(c.waitlistRemove) do redis.call('ZREM', KEYS[5], st) end
for _, st in ipairs(c.permitsUsed) do redis.call('SREM', KEYS[6], st) end
return 1
`;

// KEYS: as HOLD, plus a load marker; ARGV: json snapshot, ttl seconds for the marker.
const LOAD = `
local s = cjson.decode(ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
redis.call('HSET', KEYS[1], 'cap', s.capacity, 'wlcap', s.waitlistCapacity, 'enrolled', s.enrolled, 'waitlisted', s.waitlisted, 'open', s.open and '1' or '0')
for _, h in ipairs(s.pendingSeatHolds) do redis.call('ZADD', KEYS[2], h.expiresAt, h.registrationId) end
for _, h in ipairs(s.pendingWaitlistHolds) do redis.call('ZADD', KEYS[3], h.expiresAt, h.registrationId) end
for _, st in ipairs(s.liveStudents) do redis.call('SADD', KEYS[4], st) end
for _, w in ipairs(s.waitlist) do redis.call('ZADD', KEYS[5], w.seq, w.studentId) end
for _, st in ipairs(s.permits) do redis.call('SADD', KEYS[6], st) end
return 1
`;

type SeatCommands = Redis & {
  seatHold(...args: (string | number)[]): Promise<string>;
  seatRelease(...args: string[]): Promise<number>;
  seatApply(...args: string[]): Promise<number>;
  seatLoad(...args: string[]): Promise<number>;
};

/** The seat cache. Every method is one atomic Redis script call. */
export class SeatStore {
  private readonly r: SeatCommands;

  constructor(redis: Redis, private readonly holdMs: number) {
    this.r = redis as SeatCommands;
    if (!('seatHold' in redis)) {
      redis.defineCommand('seatHold', { numberOfKeys: 7, lua: HOLD });
      redis.defineCommand('seatRelease', { numberOfKeys: 7, lua: RELEASE });
      redis.defineCommand('seatApply', { numberOfKeys: 6, lua: APPLY });
      redis.defineCommand('seatLoad', { numberOfKeys: 6, lua: LOAD });
    }
  }

  /** Holds a seat or a waitlist place for a request, or says why not. */
  async hold(sectionId: string, studentId: string, requestId: string, registrationId: string, now = Date.now()): Promise<HoldOutcome> {
    const kind = await this.r.seatHold(...keys(sectionId), reqKey(sectionId, studentId, requestId), studentId, registrationId, now, this.holdMs);
    if (kind.startsWith('REPEAT:')) return { kind: 'REPEAT', registrationId: kind.slice('REPEAT:'.length) };
    return { kind } as HoldOutcome;
  }

  /** Gives back a hold that will never be decided (the request was not accepted after all). */
  async release(sectionId: string, studentId: string, requestId: string, registrationId: string): Promise<void> {
    await this.r.seatRelease(...keys(sectionId), reqKey(sectionId, studentId, requestId), studentId, registrationId);
  }

  /** Applies a committed change; a section that is not loaded is left to load from PostgreSQL. */
  async apply(change: SeatChange): Promise<void> {
    await this.r.seatApply(...keys(change.sectionId), JSON.stringify(change));
  }

  /** Replaces a section's cached state with one read from PostgreSQL. */
  async load(sectionId: string, snapshot: SeatSnapshot): Promise<void> {
    await this.r.seatLoad(...keys(sectionId), JSON.stringify(snapshot));
  }

  /** Counts as Redis has them, or undefined when the section is not loaded. */
  async counts(sectionId: string): Promise<{ capacity: number; enrolled: number; waitlistCapacity: number; waitlisted: number } | undefined> {
    const [cap, enrolled, wlcap, waitlisted] = await this.r.hmget(`seat:{${sectionId}}`, 'cap', 'enrolled', 'wlcap', 'waitlisted');
    if (cap === null) return undefined;
    return { capacity: Number(cap), enrolled: Number(enrolled), waitlistCapacity: Number(wlcap), waitlisted: Number(waitlisted) };
  }

  /** 1-based waitlist position, 0 when not on the waitlist; undefined when the section is not loaded. */
  async waitlistPosition(sectionId: string, studentId: string): Promise<{ position: number; size: number } | undefined> {
    const [[, exists], [, rank], [, size]] = (await this.r
      .multi()
      .exists(`seat:{${sectionId}}`)
      .zrank(`wl:{${sectionId}}`, studentId)
      .zcard(`wl:{${sectionId}}`)
      .exec()) as [unknown, number | null][];
    if (!exists) return undefined;
    return { position: rank === null ? 0 : Number(rank) + 1, size: Number(size) };
  }

  /** Forgets a section so the next use reloads it from PostgreSQL. */
  async forget(sectionId: string): Promise<void> {
    await this.r.del(...keys(sectionId));
  }

  /** Forgets every section (start-up, or an operator's rebuild). */
  async forgetAll(): Promise<number> {
    const prefix = this.r.options.keyPrefix ?? '';
    let cursor = '0';
    let n = 0;
    do {
      const [next, found] = await this.r.scan(cursor, 'MATCH', `${prefix}seat:{*`, 'COUNT', 1000);
      cursor = next;
      const ids = found.map((k) => k.slice(prefix.length + 'seat:{'.length, -1));
      for (const id of ids) await this.forget(id);
      n += ids.length;
    } while (cursor !== '0');
    return n;
  }
}
