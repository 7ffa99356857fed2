/**
 * Every NATS subject virtflow uses, built here and nowhere else, so wildcards
 * mean something: `virt.evt.domain.<uuid>.<type>`, `virt.evt.host.<hostId>.<type>`,
 * `virt.cmd.<hostId>`, and the name reservations.
 */
import { VirtError } from '../errors.ts';

export const EVENT_STREAM = 'VIRT_EVENTS';
export const EVENT_PREFIX = 'virt.evt';

/** Subject tokens may not hold '.', '*', '>' or whitespace. */
export function checkToken(token: string, what: string): string {
  if (token === '' || /[.*>\s]/.test(token)) throw new VirtError('INVALID_ARG', `${what} '${token}' cannot be used in a subject`, what);
  return token;
}

export const subjects = {
  domainEvent: (uuid: string, type: string) => `${EVENT_PREFIX}.domain.${checkToken(uuid, 'uuid')}.${checkToken(type, 'type')}`,
  /** Every event of one domain: its aggregate's subject filter. */
  domain: (uuid: string) => `${EVENT_PREFIX}.domain.${checkToken(uuid, 'uuid')}.*`,
  allDomains: () => `${EVENT_PREFIX}.domain.>`,
  /** One event type of every domain (`virt.evt.domain.*.DomainStarted`). */
  allDomainsOfType: (type: string) => `${EVENT_PREFIX}.domain.*.${checkToken(type, 'type')}`,
  hostEvent: (hostId: string, type: string) => `${EVENT_PREFIX}.host.${checkToken(hostId, 'hostId')}.${checkToken(type, 'type')}`,
  host: (hostId: string) => `${EVENT_PREFIX}.host.${checkToken(hostId, 'hostId')}.*`,
  allHosts: () => `${EVENT_PREFIX}.host.>`,
  all: () => `${EVENT_PREFIX}.>`,
  /**
   * A domain name's claim record: one subject per name, written with JetStream's
   * expected-last-subject-sequence (0 for a name never claimed, else the sequence
   * of its last release), so exactly one writer can take a name.
   */
  nameClaim: (name: string) => `${EVENT_PREFIX}.name.${encodeName(name)}.claim`,
  allNames: () => `${EVENT_PREFIX}.name.>`,
  /** Commands to one host's agent. */
  hostCommands: (hostId: string) => `virt.cmd.${checkToken(hostId, 'hostId')}`,
  /** Every host's commands: the commands stream's subject. */
  allHostCommands: () => 'virt.cmd.*',
} as const;

/** Domain names may hold any character but '/': encode them into one subject token. */
export function encodeName(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

export function decodeName(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

/** The aggregate a subject belongs to: `{kind: 'domain', id}` or `{kind: 'host', id}`. */
export function aggregateOf(subject: string): { kind: 'domain' | 'host' | 'name'; id: string; type: string } | undefined {
  const m = /^virt\.evt\.(domain|host|name)\.([^.]+)\.([^.]+)$/.exec(subject);
  return m ? { kind: m[1] as 'domain' | 'host' | 'name', id: m[2]!, type: m[3]! } : undefined;
}
