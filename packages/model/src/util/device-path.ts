/**
 * `/domain/devices/disk[3]`: the path of the i-th device of a kind (0-based i).
 * Passes over the devices build these for every device, to name it in an
 * error that almost never comes; the first few hundred of each kind are kept
 * so that each string is built once per process rather than once per pass.
 */
const KEPT = 256;
const byName = new Map<string, string[]>();

export function indexedDevicePath(name: string, i: number): string {
  if (i >= KEPT) return `/domain/devices/${name}[${i + 1}]`;
  let list = byName.get(name);
  if (list === undefined) byName.set(name, (list = []));
  return (list[i] ??= `/domain/devices/${name}[${i + 1}]`);
}
