/**
 * Disks as libvirt's parser stores and its formatter writes them
 * (virDomainDiskDefParseXML, virDomainDiskInsert, virDomainDiskDefFormat,
 * virDomainDiskSourceFormat, virDomainDiskBackingStoreFormat): the order
 * disks are kept in, the network ports libvirt fills, and what a persistent
 * definition does not keep (block job mirrors, backing chain indexes).
 */
import { diskNameIndex } from '../../domain/rules/disk-addr.ts';
import { domainRule } from '../rules.ts';

type Obj = Record<string, unknown>;

/**
 * virDomainDiskInsert: each disk as it is read goes after the last disk of
 * its bus, but before the first disk of that bus whose target name sorts
 * after its own.
 */
export const diskOrder = domainRule(
  'disk-order',
  'libvirt keeps disks grouped by bus, each group in target name order (hda before hdb), in the order the groups first appear',
  (def) => {
    const disks = def.devices?.disks;
    if (!disks || disks.length < 2) return;
    // Each target name's index once, not once per comparison.
    const nameIndex = disks.map((d) => (d.target?.dev !== undefined ? diskNameIndex(d.target.dev) : 0));
    const ordered: number[] = [];
    for (let k = 0; k < disks.length; k++) {
      const bus = disks[k]!.target?.bus;
      const hasDst = disks[k]!.target?.dev !== undefined;
      let insertAt = -1;
      for (let i = ordered.length - 1; i >= 0; i--) {
        const cur = disks[ordered[i]!]!;
        if (cur.target?.bus !== bus) continue;
        if (cur.target?.dev !== undefined && hasDst && nameIndex[ordered[i]!]! > nameIndex[k]!) insertAt = i;
        else if (insertAt === -1) insertAt = i + 1;
      }
      if (insertAt === -1) ordered.push(k);
      else ordered.splice(insertAt, 0, k);
    }
    if (ordered.some((k, i) => k !== i)) def.devices!.disks = ordered.map((k) => disks[k]!);
  },
);

/** virStorageSourceNetworkDefaultPort. */
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, ftps: 990, tftp: 69, sheepdog: 7000, nbd: 10809, ssh: 22, iscsi: 3260, gluster: 24007, vxhs: 9999 };

/** A <source> and the sources down its backing chain. */
function* sources(holder: Obj | undefined): Generator<{ holder: Obj; source: Obj }> {
  while (holder) {
    const source = holder['source'] as Obj | undefined;
    if (source) yield { holder, source };
    holder = holder['backingStore'] as Obj | undefined;
  }
}

function formatSource(source: Obj, network: boolean): void {
  // virDomainDiskDefParseXML reads a source's index only from live XML.
  delete source['index'];
  if (!network) return;
  const protocol = source['protocol'] as string | undefined;
  for (const h of (source['hosts'] as Obj[] | undefined) ?? []) {
    // TCP is the default transport and is not written; a TCP host without a port gets the protocol's.
    if (h['transport'] === 'tcp') delete h['transport'];
    if (h['transport'] !== undefined) continue;
    const port = h['port'] === undefined ? 0 : Number(h['port']);
    if (!port && protocol !== undefined && DEFAULT_PORTS[protocol]) h['port'] = String(DEFAULT_PORTS[protocol]);
  }
}

export const formatDisks = domainRule(
  'format-disks',
  "a network disk's TCP hosts take the protocol's default port; a persistent definition keeps no block job mirror nor backing chain index; a read-only disk that cannot be snapshotted says nothing about snapshots; only cdroms and floppies have a tray, written when open",
  (def) => {
    for (const disk of def.devices?.disks ?? []) {
      const d = disk as Obj & { type?: string; device?: string; snapshot?: string; readonly?: unknown; target?: Obj };
      // virDomainDiskDefParseXML reads <mirror> only from live XML.
      delete d['mirror'];
      let first = true;
      for (const { holder, source } of sources(d)) {
        const type = first ? d.type : (holder['type'] as string | undefined);
        formatSource(source, type === 'network');
        if (!first) delete holder['index'];
        first = false;
      }
      let bs = d['backingStore'] as Obj | undefined;
      while (bs) {
        delete bs['index'];
        bs = bs['backingStore'] as Obj | undefined;
      }
      if (d.snapshot === 'no' && d.readonly !== undefined) delete d.snapshot;
      const t = d.target;
      if (t) {
        const device = d.device ?? 'disk';
        if (t['tray'] !== undefined && (t['tray'] === 'closed' || (device !== 'cdrom' && device !== 'floppy'))) delete t['tray'];
        if (t['removable'] !== undefined && t['bus'] !== 'usb') delete t['removable'];
      }
    }
  },
);
