/**
 * Who the SDK is to NATS and Redis, and how it talks to them: the services'
 * settings (`loadSecurityConfig`: VIRTFLOW_NATS_USER / _PASSWORD /
 * _NKEY_SEED_FILE, VIRTFLOW_NATS_TLS_*, VIRTFLOW_REDIS_TLS_*, the Redis user
 * in VIRTFLOW_REDIS_URL), read from the client's environment, with what
 * `connect()` was given explicitly written over the variables it stands for.
 * So one checker validates both, and a bad setting is reported as the
 * services report it: naming the variable.
 */
import { VirtError } from '@virtflow/model';
import { ConfigError, loadSecurityConfig, natsSecurityOptions, redisSecurityOptions, type NatsOptions, type SecurityConfig, type TlsFiles } from '@virtflow/runtime';

type Env = Record<string, string | undefined>;

/** A NATS user: by password, or by an nkey whose seed (`SU...`) is in a file. */
export type NatsUserOption =
  | { readonly user: string; readonly password: string; readonly nkeySeedFile?: undefined }
  | { readonly user: string; readonly nkeySeedFile: string; readonly password?: undefined };

/** The security part of ConnectOptions. */
export interface SecurityOptions {
  /** NATS user (default VIRTFLOW_NATS_USER with VIRTFLOW_NATS_PASSWORD or VIRTFLOW_NATS_NKEY_SEED_FILE); given, it replaces them. */
  readonly natsUser?: NatsUserOption;
  /** PEM files for NATS TLS (default VIRTFLOW_NATS_TLS_CA, _CERT, _KEY); given, it replaces all three. */
  readonly natsTls?: TlsFiles;
  /** PEM files for Redis TLS (default VIRTFLOW_REDIS_TLS_CA, _CERT, _KEY); given, it replaces all three. The Redis user rides in the URL. */
  readonly redisTls?: TlsFiles;
}

/** What the connections take. */
export interface ConnectionSecurity {
  readonly config: SecurityConfig;
  readonly nats: NatsOptions;
  readonly redis: { readonly tls?: { ca?: string; cert?: string; key?: string } };
}

function setTls(env: Env, prefix: string, files: TlsFiles): void {
  env[`${prefix}_CA`] = files.ca;
  env[`${prefix}_CERT`] = files.cert;
  env[`${prefix}_KEY`] = files.key;
}

/** `env` with the explicit options written over the variables they stand for. */
export function withSecurityOptions(env: Env, o: SecurityOptions): Env {
  const out = { ...env };
  if (o.natsUser) {
    out.VIRTFLOW_NATS_USER = o.natsUser.user;
    out.VIRTFLOW_NATS_PASSWORD = o.natsUser.password;
    out.VIRTFLOW_NATS_NKEY_SEED_FILE = o.natsUser.nkeySeedFile;
  }
  if (o.natsTls) setTls(out, 'VIRTFLOW_NATS_TLS', o.natsTls);
  if (o.redisTls) setTls(out, 'VIRTFLOW_REDIS_TLS', o.redisTls);
  return out;
}

/** Reads and checks the settings and the files they name; a bad one is INVALID_ARG at its variable. */
export function connectionSecurity(env: Env): ConnectionSecurity {
  try {
    const config = loadSecurityConfig(env);
    return { config, nats: natsSecurityOptions(config), redis: redisSecurityOptions(config) };
  } catch (e) {
    if (e instanceof ConfigError) throw new VirtError('INVALID_ARG', e.message, e.variable);
    throw e;
  }
}

/** A Redis URL fit for a message: the password masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

const TLS_TROUBLE = /certificate|self[- ]signed|CERT_|SSL|TLS|handshake/i;

/**
 * Why a connection failed, said in terms of the setting to change: a
 * certificate the CA does not vouch for names the CA variable, a refused user
 * names the user's variable, anything else the URL.
 */
export function connectFailure(server: 'NATS' | 'Redis', where: string, cause: Error, sec: SecurityConfig): VirtError {
  const msg = cause.message;
  const prefix = server === 'NATS' ? 'VIRTFLOW_NATS_TLS' : 'VIRTFLOW_REDIS_TLS';
  const files = server === 'NATS' ? sec.natsTls : sec.redisTls;
  const head = `cannot connect to ${server} at ${where}`;
  if (TLS_TROUBLE.test(msg) || TLS_TROUBLE.test(String((cause as NodeJS.ErrnoException).code ?? ''))) {
    const hint = files?.ca
      ? `the server's certificate is not signed by the CA in ${prefix}_CA (${files.ca})`
      : `set ${prefix}_CA to the CA that signed the server's certificate`;
    return new VirtError('OPERATION_FAILED', `${head}: TLS: ${msg} (${hint})`, `${prefix}_CA`);
  }
  if (server === 'NATS' && /authoriz|authenticat/i.test(msg)) {
    const who = sec.natsUser ? `user '${sec.natsUser.user}' was refused: check VIRTFLOW_NATS_USER and its password or nkey` : 'the server wants a user: set VIRTFLOW_NATS_USER';
    return new VirtError('OPERATION_FAILED', `${head}: ${msg} (${who})`, 'VIRTFLOW_NATS_USER');
  }
  if (server === 'Redis' && /WRONGPASS|NOAUTH|NOPERM/.test(msg)) {
    return new VirtError('OPERATION_FAILED', `${head}: ${msg} (the user and password ride in VIRTFLOW_REDIS_URL: redis://user:password@host:port)`, 'VIRTFLOW_REDIS_URL');
  }
  return new VirtError('OPERATION_FAILED', `${head}: ${msg}`, server === 'NATS' ? 'VIRTFLOW_NATS_URL' : 'VIRTFLOW_REDIS_URL');
}
