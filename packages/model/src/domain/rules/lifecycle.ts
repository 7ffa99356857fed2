/** on_poweroff / on_reboot / on_crash / on_lockfailure (virDomainDefLifecycleParse). */
import { VirtError } from '../../errors.ts';
import type { ParseRule } from './index.ts';

const ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve', 'coredump-destroy', 'coredump-restart'];
const LOCK_ACTIONS = ['default', 'poweroff', 'restart', 'pause', 'ignore'];

export const lifecycle: ParseRule = (def) => {
  // libvirt reads on_reboot first.
  const order = [
    ['onReboot', 'on_reboot', 'restart'],
    ['onPoweroff', 'on_poweroff', 'destroy'],
    ['onCrash', 'on_crash', 'destroy'],
  ] as const;
  for (const [key, xml, dflt] of order) {
    const v = def[key]?.trim();
    if (!v) {
      def[key] = dflt;
      continue;
    }
    if (!ACTIONS.includes(v)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown ${xml} action: ${v}`, `/domain/${xml}`);
    def[key] = v;
  }
  const lock = def.onLockfailure?.trim();
  if (lock !== undefined && lock !== '') {
    if (!LOCK_ACTIONS.includes(lock)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown on_lockfailure action: ${lock}`, '/domain/on_lockfailure');
    if (lock === 'default') delete def.onLockfailure;
    else def.onLockfailure = lock;
  } else delete def.onLockfailure;
  for (const [key, event] of [['onPoweroff', 'poweroff'], ['onReboot', 'reboot']] as const) {
    const v = def[key]!;
    if (v === 'coredump-destroy' || v === 'coredump-restart') {
      throw new VirtError('CONFIG_UNSUPPORTED', `Lifecycle event '${event}' doesn't support '${v}' action`, `/domain/on_${event}`);
    }
  }
};
