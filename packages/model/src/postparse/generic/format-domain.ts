/**
 * Domain-wide parts as libvirt's parser stores them and its formatter writes
 * them: the boot menu, the iothreads (virDomainIOThreadIDDefArrayInit,
 * virDomainDefIOThreadsFormat) and the security labels of the domain and
 * of device sources (virSecurityLabelDefParseXML,
 * virSecurityDeviceLabelDefParseXML and their formatters) in a persistent
 * definition.
 */
import type { Draft } from 'immer';
import type { DomainDef } from '../../domain/types.ts';
import { toUInt } from '../../domain/rules/xmlprop.ts';
import { domainRule } from '../rules.ts';

type Def = Draft<DomainDef>;

export const formatBootMenu = domainRule(
  'format-boot-menu',
  'a boot menu timeout is read only for an enabled boot menu, and a <bootmenu> that neither enables nor disables it says nothing',
  (def) => {
    const bm = def.os?.bootmenu;
    if (!bm) return;
    if (bm.enable !== 'yes' && bm.enable !== 'no') delete def.os!.bootmenu;
    else if (bm.enable === 'no') delete bm.timeout;
  },
);

export const formatIOThreads = domainRule(
  'format-iothreads',
  "<iothreads> counts the iothreads: those listed in <iothreadids>, then the lowest free ids up to the count given; the list is written once any of its ids was given",
  (def) => {
    const listed = def.iothreadids?.iothreads ?? [];
    const given = def.iothreads !== undefined && def.iothreads.trim() !== '' ? (toUInt(def.iothreads, 10) ?? 0) : 0;
    const count = Math.max(given, listed.length);
    if (count === 0) {
      delete def.iothreads;
      return;
    }
    def.iothreads = String(count);
    if (!listed.length) return;
    const used = new Set(listed.map((t) => toUInt(t.id ?? '', 10)));
    for (let id = 1; listed.length < count && id <= count; id++) if (!used.has(id)) listed.push({ id: String(id) });
  },
);

interface DeviceLabel {
  model?: string;
  labelskip?: string;
  relabel?: string;
  label?: string;
}

/** A device source's labels in a persistent definition: labelskip is live-only, and a relabelled label-less entry says nothing. */
function deviceLabels(holder: { seclabels?: DeviceLabel[] } | undefined): void {
  const list = holder?.seclabels;
  if (!list) return;
  const kept = list.filter((l) => {
    delete l.labelskip;
    const relabel = l.relabel !== 'no';
    l.relabel = relabel ? 'yes' : 'no';
    return !(relabel && l.label === undefined);
  });
  if (kept.length) holder.seclabels = kept;
  else delete holder.seclabels;
}

type Obj = Record<string, unknown>;

/** Every <source> that may carry device labels: disks and their backing chains, and character devices. */
function labelledSources(def: Def): Obj[] {
  const out: Obj[] = [];
  for (const d of (def.devices?.disks ?? []) as Obj[]) {
    let holder: Obj | undefined = d;
    while (holder) {
      const src = holder['source'] as Obj | undefined;
      if (src) out.push(src);
      holder = holder['backingStore'] as Obj | undefined;
    }
  }
  for (const key of ['serials', 'parallels', 'consoles', 'channels']) {
    for (const c of ((def.devices as Record<string, unknown> | undefined)?.[key] ?? []) as Obj[]) {
      for (const s of (c['sources'] as Obj[] | undefined) ?? []) out.push(s);
    }
  }
  return out;
}

export const formatSeclabels = domainRule(
  'format-seclabels',
  "a persistent definition keeps a domain's static label only (dynamic labels and image labels are generated when the domain runs), and no device label that merely asks for relabelling",
  (def, ctx) => {
    if (!ctx.flags.inactive) return;
    for (const l of def.seclabels ?? []) {
      const s = l as { type?: string; model?: string; relabel?: string; label?: string; imagelabel?: string; baselabel?: string };
      // virSecurityLabelDefParseXML: the 'none' model of an older configuration means no labelling.
      if (s.model === 'none') s.type = 'none';
      const type = (s.type ??= 'dynamic');
      if (type === 'none') {
        delete s.relabel;
        delete s.label;
        delete s.imagelabel;
        delete s.baselabel;
        continue;
      }
      s.relabel = (s.relabel ?? (type === 'dynamic' ? 'yes' : 'no')) === 'yes' ? 'yes' : 'no';
      if (type !== 'static') delete s.label;
      delete s.imagelabel;
      if (type !== 'dynamic') delete s.baselabel;
    }
    for (const src of labelledSources(def)) deviceLabels(src as { seclabels?: DeviceLabel[] });
  },
);
