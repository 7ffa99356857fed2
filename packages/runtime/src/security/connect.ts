/**
 * Connection options from SecurityConfig: the NATS user, its reply inbox and
 * TLS for nats.js; TLS for ioredis. A PEM file that cannot be read stops the
 * service with a ConfigError naming its variable.
 */
import { readFileSync } from 'node:fs';
import { nkeyAuthenticator } from '@nats-io/transport-node';
import { ConfigError, type SecurityConfig, type TlsFiles } from '../config.ts';
import type { NatsOptions } from '../events/nats.ts';
import { inboxPrefix } from './nats-auth.ts';

function pem(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(variable, `cannot read '${path}': ${(e as Error).message}`);
  }
}

function tls(files: TlsFiles, prefix: string): { ca?: string; cert?: string; key?: string } {
  return {
    ...(files.ca ? { ca: pem(files.ca, `${prefix}_CA`) } : {}),
    ...(files.cert ? { cert: pem(files.cert, `${prefix}_CERT`) } : {}),
    ...(files.key ? { key: pem(files.key, `${prefix}_KEY`) } : {}),
  };
}

/** nats.js options: user and password or nkey, `_INBOX_<user>` replies, TLS (the server's name checked against the CA). */
export function natsSecurityOptions(sec: SecurityConfig): NatsOptions {
  const u = sec.natsUser;
  const auth = !u ? {} : u.nkeySeedFile
    ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(pem(u.nkeySeedFile, 'VIRTFLOW_NATS_NKEY_SEED_FILE').trim())) }
    : { user: u.user, pass: u.password! };
  return {
    ...auth,
    ...(u ? { inboxPrefix: inboxPrefix(u.user) } : {}),
    ...(sec.natsTls ? { tls: tls(sec.natsTls, 'VIRTFLOW_NATS_TLS') } : {}),
  };
}

/** ioredis options for TLS (use a rediss:// URL); the user and password come from the URL. */
export function redisSecurityOptions(sec: SecurityConfig): { tls?: { ca?: string; cert?: string; key?: string } } {
  return sec.redisTls ? { tls: tls(sec.redisTls, 'VIRTFLOW_REDIS_TLS') } : {};
}
