/**
 * Domain identity as virDomainDefParseIDs / virDomainDefParseCaps read it:
 * type, name, uuid, genid, title, OS type and arch.
 */
import { VirtError } from '../../errors.ts';
import { canonicalUUID, generateUUID } from '../../util/uuid.ts';
import type { ParseRule } from './index.ts';

export const DOMAIN_TYPES = ['none', 'qemu', 'kqemu', 'kvm', 'xen', 'lxc', 'uml', 'openvz', 'test', 'vmware', 'hyperv', 'vbox', 'phyp', 'parallels', 'bhyve', 'vz', 'hvf'] as const;
export const OS_TYPES = ['hvm', 'xen', 'linux', 'exe', 'uml', 'xenpvh'] as const;
export const ARCHES = ['alpha', 'armv6l', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64', 'lm32', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el', 'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32', 'riscv64', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'x86_64', 'xtensa', 'xtensaeb'] as const;

export const domainType: ParseRule = (def) => {
  if (def.type === undefined || def.type === '') throw new VirtError('INTERNAL_ERROR', 'missing domain type attribute', '/domain/@type');
  if (!(DOMAIN_TYPES as readonly string[]).includes(def.type)) throw new VirtError('CONFIG_UNSUPPORTED', `invalid domain type ${def.type}`, '/domain/@type');
  // The id is a live-only attribute: a definition never carries one.
  delete def.id;
};

export const name: ParseRule = (def) => {
  if (def.name === undefined || def.name === '') throw new VirtError('NO_NAME', undefined, '/domain/name');
  if (def.name.includes('/')) throw new VirtError('XML_ERROR', `name ${def.name} cannot contain '/'`, '/domain/name');
};

/** Already libvirt's form (lowercase 8-4-4-4-12): canonicalUUID would give it back unchanged. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function canonical(text: string): string | undefined {
  return CANONICAL_UUID.test(text) ? text : canonicalUUID(text);
}

export const uuid: ParseRule = (def, ctx) => {
  if (def.uuid === undefined || def.uuid.trim() === '') {
    def.uuid = generateUUID(ctx.random);
    return;
  }
  const canon = canonical(def.uuid);
  if (!canon) throw new VirtError('INTERNAL_ERROR', 'malformed uuid element', '/domain/uuid');
  def.uuid = canon;
};

export const genid: ParseRule = (def, ctx) => {
  if (def.genid === undefined) return;
  if (def.genid.trim() === '') {
    def.genid = generateUUID(ctx.random);
    return;
  }
  const canon = canonical(def.genid);
  if (!canon) throw new VirtError('INTERNAL_ERROR', 'malformed genid element', '/domain/genid');
  def.genid = canon;
};

export const titleAndDescription: ParseRule = (def) => {
  if (def.title !== undefined && def.title.includes('\n')) throw new VirtError('XML_ERROR', "Domain title can't contain newlines", '/domain/title');
  if (def.title === '') delete def.title;
  if (def.description === '') delete def.description;
  if (def.devices?.emulator === '') delete def.devices.emulator;
};

export const osType: ParseRule = (def) => {
  const type = def.os?.type;
  const value = type?.text?.trim();
  if (!type || !value) {
    if (def.bootloader !== undefined) {
      def.os ??= {};
      def.os.type = { ...(type ?? {}), text: 'xen' };
      return;
    }
    throw new VirtError('XML_ERROR', 'an os <type> must be specified', '/domain/os/type');
  }
  if (!(OS_TYPES as readonly string[]).includes(value)) throw new VirtError('CONFIG_UNSUPPORTED', `unknown OS type '${value}'`, '/domain/os/type');
  if (value === 'linux' && def.type === 'xen') type.text = 'xen';
  else type.text = value;
  if (type.arch !== undefined && !(ARCHES as readonly string[]).includes(type.arch)) {
    throw new VirtError('CONFIG_UNSUPPORTED', `Unknown architecture ${type.arch}`, '/domain/os/type/@arch');
  }
};
