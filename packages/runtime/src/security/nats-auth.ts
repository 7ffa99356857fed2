/**
 * nats-server configuration for virtflow's users: one account with JetStream,
 * one user per service instance, each allowed exactly the subjects its role
 * publishes and subscribes to. NATS checks permissions on subjects only, so
 * the grants lean on the subjects that carry what matters:
 *
 * - an agent consumes its host's commands through its own durable consumer
 *   `agent-<hostId>`; nats.js creates a filtered consumer on
 *   `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>` and the server refuses
 *   a body whose filter differs from the subject's, so the grant
 *   `...CONSUMER.CREATE.VIRT_COMMANDS.agent-h1.virt.cmd.h1` pins the filter;
 * - KV keys are subjects (`$KV.<bucket>.<key>`), and nats.js reads one key by
 *   `$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`, so an agent's writes
 *   and reads of VIRT_COMMAND_RESULTS / VIRT_HEARTBEATS can be held to its host;
 * - every user has its own reply-inbox prefix (`_INBOX_<user>`, to be passed as
 *   nats.js's `inboxPrefix`) so nobody can subscribe to another's replies.
 *
 * What NATS cannot enforce (see README.md beside this file): anything inside a
 * message body. A direct get by sequence (`$JS.API.DIRECT.GET.<stream>` with
 * `{seq, next_by_subj}` in the body) reads any subject of its stream, so the
 * agent gets none on VIRT_COMMANDS unless `agentBacklogDirectGet` is set; and
 * domain event subjects carry the domain's uuid, not its host, so an agent may
 * publish on every domain's subject — the fold (`checkEventHost` in the model)
 * is where a lifecycle event from a host other than the domain's is flagged.
 */
import { nkeys } from '@nats-io/transport-node';
import { COMMAND_RESULTS_BUCKET, COMMAND_STREAM, HEARTBEAT_BUCKET } from '../commands.ts';

export type NatsRole = 'admin' | 'agent' | 'parser' | 'scheduler' | 'client';

export interface NatsUser {
  /** The user's name; with an nkey, only a label naming its reply inbox (`_INBOX_<user>`). */
  readonly user: string;
  /** A password, or (better: nothing secret in the server's file) an nkey's public key `U...`. */
  readonly password?: string;
  readonly nkey?: string;
  readonly role: NatsRole;
  /** The host an agent serves (agents only). */
  readonly hostId?: string;
}

export interface NatsAuthOptions {
  readonly users: readonly NatsUser[];
  /** The account's name (VIRTFLOW). */
  readonly account?: string;
  readonly eventStream?: string;
  readonly snapshotBucket?: string;
  /**
   * Lets agents read the commands stream by sequence (`pendingCommands`, the
   * backlog reconcile looks at when the agent starts). NATS cannot hold such a
   * read to the agent's own host, so it is off unless asked for; without it
   * the agent reconciles without the backlog (see README.md).
   */
  readonly agentBacklogDirectGet?: boolean;
  /**
   * Durable consumers of the services on the event stream (`projector`, `scheduler`): agents and
   * clients may read events through consumers of their own, but not pull from, ack for, recreate
   * or delete these (a stolen pull and ack would make the projector miss events).
   */
  readonly serviceDurables?: readonly string[];
  /** TLS for clients: the server's certificate, key and the CA that signs client certificates. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly verifyClients?: boolean };
}

export interface Permissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Exceptions to `publish` (NATS applies deny after allow). */
  readonly publishDeny?: readonly string[];
}

export class NatsAuthError extends Error {
  override readonly name = 'NatsAuthError';
  constructor(readonly code: 'INVALID_ARG', readonly path: string, message: string) {
    super(`${path}: ${message}`);
  }
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A new user nkey: the public key for the server's configuration and the seed
 * (`SU...`, the secret) for the service (VIRTFLOW_NATS_NKEY_SEED_FILE). The
 * server keeps only public keys and checks a signature of its nonce: no secret
 * in its file. nkeys comes with nats.js.
 */
export function createNkeyUser(): { readonly publicKey: string; readonly seed: string } {
  const kp = nkeys.createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** The reply-inbox prefix of a user: give it to nats.js as `inboxPrefix`. */
export const inboxPrefix = (user: string): string => `_INBOX_${user}`;

const API = '$JS.API';

/** Reading events: stream info, direct gets, ordered consumers (their names are random). */
function eventReads(stream: string): string[] {
  return [
    `${API}.INFO`,
    `${API}.STREAM.INFO.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.DELETE.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
  ];
}

/** Reading one KV bucket whole: info, key reads, watches and key listings (ordered consumers). */
function kvReads(bucket: string): string[] {
  return [`${API}.STREAM.INFO.KV_${bucket}`, `${API}.DIRECT.GET.KV_${bucket}.>`, `${API}.STREAM.MSG.GET.KV_${bucket}`, ...consumersOn(`KV_${bucket}`)];
}

/**
 * Reading every KV bucket, those named at run time included (the projections'
 * generations, `VIRT_DOMAINS_<n>`). NATS wildcards are whole tokens — `KV_*`
 * is a literal name, not a prefix — so the grant goes by what the subject
 * says instead: key reads and consumers whose filter is a `$KV.` subject, on
 * any stream. Consumers' info, pulls and deletes cannot say their stream's
 * kind, so the callers deny the commands stream's (a pull from an agent's
 * durable would take its host's commands).
 */
function anyKvReads(): string[] {
  return [
    `${API}.STREAM.INFO.*`, `${API}.DIRECT.GET.*.$KV.>`,
    `${API}.CONSUMER.CREATE.*.*.$KV.>`, `${API}.CONSUMER.INFO.*.*`, `${API}.CONSUMER.DELETE.*.*`, `${API}.CONSUMER.MSG.NEXT.*.*`,
  ];
}

/** The commands stream's consumer API, for roles that read every bucket but must not touch commands. */
const commandConsumers = (): string[] => [
  `${API}.CONSUMER.CREATE.${COMMAND_STREAM}.>`, `${API}.CONSUMER.INFO.${COMMAND_STREAM}.*`, `${API}.CONSUMER.DELETE.${COMMAND_STREAM}.*`,
  `${API}.CONSUMER.MSG.NEXT.${COMMAND_STREAM}.*`, `$JS.ACK.${COMMAND_STREAM}.>`,
];

function consumersOn(stream: string): string[] {
  return [`${API}.CONSUMER.CREATE.${stream}`, `${API}.CONSUMER.CREATE.${stream}.>`, `${API}.CONSUMER.INFO.${stream}.*`, `${API}.CONSUMER.DELETE.${stream}.*`, `${API}.CONSUMER.MSG.NEXT.${stream}.*`];
}

/** Reading and writing some keys of a bucket (`keys`: subject patterns of the key, e.g. `h1.>`). */
function kvKeys(bucket: string, keys: readonly string[]): string[] {
  return [
    `${API}.STREAM.INFO.KV_${bucket}`,
    ...keys.flatMap((k) => [`$KV.${bucket}.${k}`, `${API}.DIRECT.GET.KV_${bucket}.$KV.${bucket}.${k}`]),
  ];
}

/** The services' durable consumers on the event stream, out of reach of other users' consumer API calls. */
function guardDurables(stream: string, durables: readonly string[]): string[] {
  return durables.flatMap((d) => [
    `${API}.CONSUMER.CREATE.${stream}.${d}`, `${API}.CONSUMER.CREATE.${stream}.${d}.>`, `${API}.CONSUMER.DURABLE.CREATE.${stream}.${d}`,
    `${API}.CONSUMER.DELETE.${stream}.${d}`, `${API}.CONSUMER.MSG.NEXT.${stream}.${d}`, `$JS.ACK.${stream}.${d}.>`,
  ]);
}

/** The subjects a role may publish and subscribe to. */
export function permissionsFor(u: NatsUser, opts: Omit<NatsAuthOptions, 'users'> = {}): Permissions {
  const stream = opts.eventStream ?? 'VIRT_EVENTS';
  const snapshots = opts.snapshotBucket ?? 'VIRT_SNAPSHOTS';
  const inbox = `${inboxPrefix(u.user)}.>`;
  const publishDeny = guardDurables(stream, opts.serviceDurables ?? ['projector', 'scheduler']);
  switch (u.role) {
    case 'admin':
      return { publish: ['>'], subscribe: ['>'] };
    case 'agent': {
      const h = u.hostId!;
      const durable = `agent-${h}`;
      return {
        publish: [
          ...eventReads(stream),
          // Its own host's events, any domain's events (the subject cannot say whose), name claims.
          `virt.evt.host.${h}.*`, 'virt.evt.domain.*.*', 'virt.evt.name.*.claim',
          // Its snapshots: its host's aggregate and domains (again: not by host).
          ...kvKeys(snapshots, [`host.${h}`, 'domain.*']),
          // The commands stream: its one durable consumer, its filter pinned to its host.
          `${API}.STREAM.INFO.${COMMAND_STREAM}`,
          `${API}.CONSUMER.CREATE.${COMMAND_STREAM}.${durable}.virt.cmd.${h}`,
          `${API}.CONSUMER.INFO.${COMMAND_STREAM}.${durable}`,
          `${API}.CONSUMER.DELETE.${COMMAND_STREAM}.${durable}`,
          `${API}.CONSUMER.MSG.NEXT.${COMMAND_STREAM}.${durable}`,
          `$JS.ACK.${COMMAND_STREAM}.${durable}.>`,
          ...(opts.agentBacklogDirectGet ? [`${API}.DIRECT.GET.${COMMAND_STREAM}`] : []),
          // Outcomes of its own commands, its own heartbeat.
          ...kvKeys(COMMAND_RESULTS_BUCKET, [`${h}.>`]),
          ...kvKeys(HEARTBEAT_BUCKET, [h]),
        ],
        subscribe: [inbox],
        publishDeny,
      };
    }
    case 'client':
      // Reads events, snapshots, projections, outcomes and heartbeats; jobs go through Redis (BullMQ), not NATS.
      return {
        // `$JS.ACK` on the event stream: `virtflow event --name` is a durable subscription of the client's own.
        publish: [...eventReads(stream), `$JS.ACK.${stream}.>`, ...anyKvReads(), `${API}.STREAM.NAMES`, `${API}.STREAM.LIST`],
        subscribe: [inbox],
        publishDeny: [...publishDeny, ...commandConsumers()],
      };
    case 'parser':
      // Defines and edits definitions: domain events, name claims, snapshots; reads events.
      return {
        publish: [...eventReads(stream), 'virt.evt.domain.*.*', 'virt.evt.name.*.claim', ...kvKeys(snapshots, ['>'])],
        subscribe: [inbox],
        publishDeny,
      };
    case 'scheduler':
      // Places, migrates and commands every host: domain and host events, commands, outcomes.
      return {
        publish: [
          ...eventReads(stream), 'virt.evt.>', 'virt.cmd.*', ...kvKeys(snapshots, ['>']), ...anyKvReads(), `$KV.>`,
          `${API}.STREAM.INFO.*`, `${API}.STREAM.NAMES`, `${API}.STREAM.LIST`, ...consumersOn('*'),
        ],
        subscribe: [inbox],
      };
  }
}

function check(opts: NatsAuthOptions): void {
  const seen = new Set<string>();
  opts.users.forEach((u, i) => {
    const at = `/users[${i + 1}]`;
    if (!TOKEN.test(u.user)) throw new NatsAuthError('INVALID_ARG', `${at}/user`, `'${u.user}' must be 1 to 64 characters of A-Z a-z 0-9 _ - (it names the user's inbox subject)`);
    if (seen.has(u.user)) throw new NatsAuthError('INVALID_ARG', `${at}/user`, `user '${u.user}' is listed twice`);
    seen.add(u.user);
    if ((u.password === undefined) === (u.nkey === undefined)) throw new NatsAuthError('INVALID_ARG', `${at}/password`, 'a user has a password or an nkey, not both or neither');
    if (u.password !== undefined && (u.password.length < 12 || /["\\\s]/.test(u.password))) throw new NatsAuthError('INVALID_ARG', `${at}/password`, 'must be at least 12 characters, without quotes, backslashes or spaces');
    if (u.nkey !== undefined && !isUserKey(u.nkey)) throw new NatsAuthError('INVALID_ARG', `${at}/nkey`, `'${u.nkey}' is not a user nkey's public key (U...)`);
    if (u.role === 'agent' && !(u.hostId && TOKEN.test(u.hostId))) throw new NatsAuthError('INVALID_ARG', `${at}/hostId`, `an agent needs a host id of A-Z a-z 0-9 _ - (got '${u.hostId ?? ''}')`);
    if (u.role !== 'agent' && u.hostId !== undefined) throw new NatsAuthError('INVALID_ARG', `${at}/hostId`, `only agents have a host id (role '${u.role}')`);
  });
  if (opts.account !== undefined && !TOKEN.test(opts.account)) throw new NatsAuthError('INVALID_ARG', '/account', `'${opts.account}' is not a valid account name`);
}

function isUserKey(key: string): boolean {
  if (!key.startsWith('U')) return false;
  try {
    nkeys.fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => `[${xs.map(q).join(', ')}]`;

/**
 * The nats-server configuration (its own format; start the server with
 * `-c file`, plus `-js -sd <dir>` or a `jetstream {}` block of the caller's).
 * Passwords are written as given: keep the file readable by the server only.
 */
export function natsServerConfig(opts: NatsAuthOptions): string {
  check(opts);
  const users = opts.users.map((u) => {
    const p = permissionsFor(u, opts);
    const deny = p.publishDeny?.length ? `, deny: ${list(p.publishDeny)}` : '';
    const who = u.nkey !== undefined ? `nkey: ${q(u.nkey)}` : `user: ${q(u.user)}, password: ${q(u.password!)}`;
    return `      { ${who}, permissions: { publish: { allow: ${list(p.publish)}${deny} }, subscribe: { allow: ${list(p.subscribe)} } } }`;
  });
  const tls = opts.tls
    ? [`tls {`, `  cert_file: ${q(opts.tls.certFile)}`, `  key_file: ${q(opts.tls.keyFile)}`, `  ca_file: ${q(opts.tls.caFile)}`, `  verify: ${opts.tls.verifyClients ? 'true' : 'false'}`, `  timeout: 5`, `}`]
    : [];
  return [
    '# virtflow: generated by @virtflow/runtime natsServerConfig(); one account, a user per service instance.',
    ...tls,
    'accounts {',
    `  ${opts.account ?? 'VIRTFLOW'} {`,
    '    jetstream: enabled',
    '    users: [',
    users.join(',\n'),
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n');
}
