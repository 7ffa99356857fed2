import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatDomainXML, parseDomainXML } from '@virtflow/model';
const dir = '/work/shared/libvirt/tests/qemuxml2argvdata';
const files = readdirSync(dir).filter(f=>f.endsWith('.xml')).map(f => readFileSync(join(dir, f)));
const ok = files.filter(f => { try { parseDomainXML(f); return true } catch { return false } });
const t = performance.now(); for (let i=0;i<3;i++) for (const f of ok) formatDomainXML(parseDomainXML(f)); const dt = performance.now()-t;
console.log((3*ok.length/(dt/1000)).toFixed(0), 'docs/s');
