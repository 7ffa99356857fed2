/** <vcpu> as virDomainVcpuParse reads it: count, current, placement, cpuset. */
import { VirtError } from '../../errors.ts';
import { formatBitmap, parseBitmap } from '../../util/bitmap.ts';
import type { ParseRule } from './index.ts';

const UINT_RE = /^\s*\+?[0-9]+$/;
/** libvirt reads the counts as C unsigned ints: a larger value is not an integer to it. */
const UINT_MAX = 4294967295;

export const vcpu: ParseRule = (def) => {
  const v = (def.vcpu ??= { text: '1' });
  const text = v.text ?? '';
  const max = UINT_RE.test(text) ? Number(text.trim()) : NaN;
  if (!(max <= UINT_MAX)) throw new VirtError('XML_ERROR', 'maximum vcpus count must be an integer', '/domain/vcpu');
  v.text = String(max);
  const placement = v.placement ?? 'static';
  if (placement !== 'static' && placement !== 'auto') {
    throw new VirtError('XML_ERROR', `Invalid value for attribute 'placement' in element 'vcpu': '${placement}'.`, '/domain/vcpu/@placement');
  }
  v.placement = placement;
  if (v.current !== undefined) {
    if (!/^\s*[0-9]+\s*$/.test(v.current) || Number(v.current) > UINT_MAX) {
      throw new VirtError('XML_ERROR', `Invalid value for attribute 'current' in element 'vcpu': '${v.current}'. Expected non-negative integer value`, '/domain/vcpu/@current');
    }
    const current = Number(v.current);
    if (current > max && def.vcpus === undefined) {
      throw new VirtError('CONFIG_UNSUPPORTED', 'maximum vCPU count must not be less than current vCPU count', '/domain/vcpu/@current');
    }
    // libvirt writes current only while some vCPUs are offline.
    if (current === max || current === 0) delete v.current;
    else v.current = String(current);
  }
  if (v.cpuset !== undefined) {
    if (placement === 'auto') delete v.cpuset;
    else {
      const set = parseBitmap(v.cpuset, '/domain/vcpu/@cpuset');
      if (set.size === 0) throw new VirtError('CONFIG_UNSUPPORTED', `Invalid value of 'cpuset': ${v.cpuset}`, '/domain/vcpu/@cpuset');
      v.cpuset = formatBitmap(set);
    }
  }
};
