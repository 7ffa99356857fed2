/** The post-parse validation of every chardev source: virDomainChrSourceDefValidate. */
import { VirtError } from '../../errors.ts';
import { deviceList, devicePath } from './generic-helpers.ts';
import type { ParseRule } from './index.ts';
import type { SourceHolder } from './chardev-source.ts';
import { CHR_KINDS, type Chr } from './chardev.ts';

const CHANNEL_NAME_CHARS = /^[a-zA-Z0-9_.-]*$/;

function missingSourceAttr(what: string, path: string): VirtError {
  return new VirtError('INTERNAL_ERROR', `Missing source ${what} attribute for char device`, `${path}/source`);
}

/** virDomainChrSourceDefValidate. `virtioOrXenChannel`: a unix channel whose path libvirt can generate. */
function validateSource(h: SourceHolder, path: string, virtioOrXenChannel: boolean): void {
  const s = h.sources?.[0];
  switch (h.type) {
    case 'file':
    case 'dev':
    case 'pipe':
      if (s?.path === undefined) throw missingSourceAttr('path', path);
      break;
    case 'nmdm':
      if ((s?.master === undefined) !== (s?.slave === undefined)) throw new VirtError('INTERNAL_ERROR', 'Should define both master and slave path attributes for nmdm device', `${path}/source`);
      break;
    case 'tcp':
      if (s?.host === undefined) throw missingSourceAttr('host', path);
      if (s.service === undefined) throw missingSourceAttr('service', path);
      if (s.mode === 'bind' && s.reconnect) throw new VirtError('INTERNAL_ERROR', 'chardev reconnect is possible only for connect mode', `${path}/source/reconnect`);
      break;
    case 'udp':
      if (h.sources?.find((x) => x.mode === 'connect')?.service === undefined) throw missingSourceAttr('service', path);
      break;
    case 'unix':
      if (s?.path === undefined && !virtioOrXenChannel) throw missingSourceAttr('path', path);
      if (s?.mode === 'bind' && s.reconnect) throw new VirtError('INTERNAL_ERROR', 'chardev reconnect is possible only for connect mode', `${path}/source/reconnect`);
      break;
    case 'spiceport':
    case 'dbus':
      if (s?.channel === undefined) throw new VirtError('CONFIG_UNSUPPORTED', 'Missing source channel attribute for char device', `${path}/source`);
      if (!CHANNEL_NAME_CHARS.test(s.channel)) throw new VirtError('INVALID_ARG', 'Invalid character in source channel for char device', `${path}/source/@channel`);
      break;
    default:
      break;
  }
}

/**
 * virDomainChrSourceDefValidate (domain_validate.c) on every chardev source:
 * a validation, so it runs once every device is read, in the order libvirt's
 * device iterator validates them (smartcards, serials, parallels, channels,
 * consoles, rngs, redirdevs).
 */
export const chardevSourcesValidate: ParseRule = (def, ctx) => {
  deviceList<SourceHolder & { mode?: string }>(def, 'smartcards').forEach((sc, i) => {
    if (sc.mode === 'passthrough') validateSource(sc, devicePath(ctx, 'smartcard', i), false);
  });
  for (const [kind, key] of CHR_KINDS) {
    deviceList<Chr>(def, key).forEach((c, i) => {
      const t = c.target!.type;
      validateSource(c, devicePath(ctx, kind, i), kind === 'channel' && (t === 'virtio' || t === 'xen'));
    });
  }
  deviceList<{ backend?: SourceHolder & { model?: string } }>(def, 'rngs').forEach((rng, i) => {
    if (rng.backend?.model === 'egd') validateSource(rng.backend, `${devicePath(ctx, 'rng', i)}/backend`, false);
  });
  deviceList<SourceHolder>(def, 'redirdevs').forEach((r, i) => validateSource(r, devicePath(ctx, 'redirdev', i), false));
};
