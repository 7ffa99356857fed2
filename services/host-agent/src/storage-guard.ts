/**
 * The agent's half of the storage allow-list: the model's check on the text
 * (normalised paths, no `..` escape, no QEMU pass-through), then every path
 * resolved through symbolic links on this host and checked again, so a link
 * planted under an allowed folder cannot lead the hypervisor out of it. A
 * path that does not exist yet (a disk image about to be created) is judged
 * by its nearest existing parent. Refusals are the model's OPERATION_DENIED,
 * naming the element's path and the allowed roots.
 */
import { realpath } from 'node:fs/promises';
import { VirtError, checkStoragePaths, normalizeRoots, storageDenied, trustedBinaries, underRoots, type Capabilities } from '@virtflow/model';

/** `path` with every symbolic link resolved; the missing tail is appended to its nearest existing parent. */
export async function resolveExisting(path: string): Promise<string> {
  const tail: string[] = [];
  let at = path;
  for (;;) {
    try {
      const real = await realpath(at);
      return tail.length ? `${real === '/' ? '' : real}/${tail.reverse().join('/')}` : real;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || at === '/') throw e;
      const i = at.lastIndexOf('/');
      tail.push(at.slice(i + 1));
      at = i === 0 ? '/' : at.slice(0, i);
    }
  }
}

/** Roots resolved through their own links (a root that is a link is allowed to be one). */
async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(normalizeRoots(roots).map((r) => resolveExisting(r)));
}

/**
 * Throws OPERATION_DENIED when a host path of `xml` (a domain or a device
 * definition) lies, as written or once resolved, outside `roots`. No roots:
 * no restriction. The emulators of the host's capabilities are allowed as
 * they are: the driver put them there.
 */
export async function guardStorage(xml: string, roots: readonly string[] | undefined, caps?: Capabilities): Promise<void> {
  if (!roots || roots.length === 0) return;
  const checked = checkStoragePaths(xml, roots, { trusted: trustedBinaries(caps) });
  if (checked.length === 0) return;
  const allowed = await realRoots(roots);
  for (const p of checked) {
    let real: string;
    try {
      real = await resolveExisting(p.value);
    } catch (e) {
      throw new VirtError('OPERATION_DENIED', `host path '${p.value}' cannot be resolved (${(e as NodeJS.ErrnoException).code ?? String(e)}) (allowed: ${normalizeRoots(roots).join(', ')})`, p.path);
    }
    if (!underRoots(real, allowed)) throw storageDenied(p, normalizeRoots(roots), `resolves to '${real}', outside the allowed storage paths`);
  }
}
