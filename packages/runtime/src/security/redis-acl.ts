/**
 * Redis ACL users for virtflow's services (`users.acl`, loaded with
 * `aclfile`): one user per service, each held to BullMQ's keys under the
 * queue prefix. BullMQ runs its commands as Lua scripts, and Redis checks a
 * script's keys and commands against the calling user like any other, so the
 * grants are what BullMQ's scripts and connections need: everything but the
 * dangerous category, plus INFO (BullMQ and ioredis read the server version
 * and eviction policy from it). The default user is switched off: without a
 * user and password nobody gets in.
 */
import { queues } from '../queues.ts';

export type RedisRole = 'parser' | 'scheduler' | 'client' | 'admin';

export interface RedisUser {
  readonly user: string;
  readonly password: string;
  readonly role: RedisRole;
}

export interface RedisAclOptions {
  readonly users: readonly RedisUser[];
  /** BullMQ's key prefix (VIRTFLOW_QUEUE_PREFIX, `bull`). */
  readonly prefix?: string;
}

export class RedisAclError extends Error {
  override readonly name = 'RedisAclError';
  constructor(readonly code: 'INVALID_ARG', readonly path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

/** The ACL rules of one role, after `on >password`. */
export function redisRules(role: RedisRole, prefix = 'bull'): string {
  if (role === 'admin') return '~* &* +@all';
  const commands = '-@all +@all -@dangerous +info';
  // A client submits to the jobs queue and watches it, and may read the dead-letter queue:
  // those queues' keys only (`%R~`: read-only, but for the version BullMQ stamps in `meta` when a queue
  // opens), so it cannot touch the stages' or the scheduler's queues. It reads the schedule queue too:
  // a lifecycle job's result is the scheduler's job of the same id there (the SDK follows it, and
  // `virtflow jobs` lists it); the SDK opens that queue without stamping `meta`.
  if (role === 'client') {
    return `resetchannels ~${prefix}:${queues.jobs}:* ~${prefix}:${queues.dead}:meta %R~${prefix}:${queues.dead}:* %R~${prefix}:${queues.schedule}:* ${commands}`;
  }
  // Services: every key under the prefix (`bull:<queue>:...`), no pub/sub channels (BullMQ uses streams).
  return `resetchannels ~${prefix}:* ${commands}`;
}

/** The text of an ACL file: the default user off, then one line per user. */
export function redisAclFile(opts: RedisAclOptions): string {
  const prefix = opts.prefix ?? 'bull';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new RedisAclError('INVALID_ARG', '/prefix', `'${prefix}' must be 1 to 64 characters of A-Z a-z 0-9 _ . -`);
  const seen = new Set<string>(['default']);
  const lines = opts.users.map((u, i) => {
    const at = `/users[${i + 1}]`;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(u.user)) throw new RedisAclError('INVALID_ARG', `${at}/user`, `'${u.user}' must be 1 to 64 characters of A-Z a-z 0-9 _ -`);
    if (seen.has(u.user)) throw new RedisAclError('INVALID_ARG', `${at}/user`, `user '${u.user}' is listed twice (or is 'default')`);
    seen.add(u.user);
    // URL-safe passwords: they travel in VIRTFLOW_REDIS_URL.
    if (!/^[A-Za-z0-9_.~-]{12,256}$/.test(u.password)) throw new RedisAclError('INVALID_ARG', `${at}/password`, 'must be 12 to 256 characters of A-Z a-z 0-9 _ . ~ - (it goes into a URL)');
    return `user ${u.user} on >${u.password} ${redisRules(u.role, prefix)}`;
  });
  return ['user default off resetkeys -@all', ...lines, ''].join('\n');
}

/** VIRTFLOW_REDIS_URL for a user: `redis://user:password@host:port` (rediss:// for TLS). */
export function redisUrlFor(base: string, user: RedisUser): string {
  const u = new URL(base);
  u.username = user.user;
  u.password = user.password;
  return u.toString().replace(/\/$/, '');
}
