/**
 * The operator's policy stages, loaded from modules into the driver registry.
 *
 * - `VIRTFLOW_POLICY_STAGES=/etc/virtflow/a.mjs,/opt/b.ts`: loaded once at
 *   start, in that order; a module that fails to load stops the service
 *   (a wrong setting is found at start, not at the first job).
 * - `VIRTFLOW_POLICY_DIR=/etc/virtflow/policy.d`: every `*.mjs`, `*.js`,
 *   `*.ts` or `*.mts` file in the folder, in file-name order, after the
 *   listed ones. The folder is rescanned when the file system reports a change,
 *   on SIGHUP and every `VIRTFLOW_POLICY_POLL_MS`: a file added or changed is
 *   (re)imported and its stages take part in the next jobs; a file removed
 *   takes its stages out. A file that fails to load is reported and skipped,
 *   keeping the version loaded before, so a bad edit never stops the pipeline.
 *   Files whose name starts with `.` or `_` are ignored (editors' temporaries).
 *
 * A module exports a PolicyStage as `default` or `stage`, or a list of them as
 * `default` or `stages`. Every process that runs the `policy` stage (and the
 * intake, whose device operations run the stages' device step) must see the
 * same modules: mount the same folder on each.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DriverRegistry, PolicyStage } from '@virtflow/model';

const MODULE_RE = /^[^._].*\.(m?js|ts|mts)$/;

/** Imports a module and returns its stages; `version` busts the module cache for a changed file. */
export async function importStages(file: string, version?: number): Promise<PolicyStage[]> {
  const url = pathToFileURL(resolve(file)).href + (version !== undefined ? `?v=${version}` : '');
  const mod = (await import(url)) as Record<string, unknown>;
  const raw = mod.stages ?? mod.stage ?? mod.default;
  const list = Array.isArray(raw) ? raw : [raw];
  if (raw === undefined || list.length === 0) throw new Error(`${file}: exports no policy stage (default, stage or stages)`);
  return list.map((s, i) => checkStage(s, `${file}${Array.isArray(raw) ? `[${i}]` : ''}`));
}

function checkStage(s: unknown, where: string): PolicyStage {
  const o = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
  if (typeof o.name !== 'string' || o.name === '') throw new Error(`${where}: a policy stage needs a name`);
  for (const k of ['domain', 'device'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw new Error(`${where}: '${k}' of stage '${o.name}' must be a function`);
  }
  if (o.domain === undefined && o.device === undefined) throw new Error(`${where}: stage '${o.name}' has neither a domain nor a device step`);
  return s as PolicyStage;
}

interface Loaded {
  readonly mtimeMs: number;
  readonly stages: readonly PolicyStage[];
}

export interface PolicyLoaderOptions {
  readonly files?: readonly string[];
  readonly dir?: string | undefined;
  /** Rescan period of the folder (0: only on file-system events and reload()). */
  readonly pollMs?: number;
  /** A line for the operator: loaded, removed, or failed. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export class PolicyLoader {
  readonly #registry: DriverRegistry;
  readonly #opts: PolicyLoaderOptions;
  readonly #dirFiles = new Map<string, Loaded>();
  #fixed: readonly PolicyStage[] = [];
  #applied: string[] = [];
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #scan: Promise<void> = Promise.resolve();
  #again = false;
  #closed = false;

  constructor(registry: DriverRegistry, opts: PolicyLoaderOptions) {
    this.#registry = registry;
    this.#opts = opts;
  }

  /** Loads the listed modules (throws on a bad one) and the folder, then watches it. */
  async start(): Promise<void> {
    const fixed: PolicyStage[] = [];
    for (const f of this.#opts.files ?? []) fixed.push(...(await importStages(f)));
    this.#fixed = fixed;
    this.#apply();
    const dir = this.#opts.dir;
    if (dir === undefined) return;
    await this.reload();
    try {
      this.#watcher = watch(dir, () => void this.reload());
      this.#watcher.on('error', () => undefined);
    } catch {
      // No inotify here (or the folder is missing yet): the poll still finds changes.
    }
    if (this.#opts.pollMs) {
      this.#timer = setInterval(() => void this.reload(), this.#opts.pollMs);
      this.#timer.unref();
    }
  }

  /** Names of the stages in effect, in order. */
  get names(): string[] {
    return [...this.#applied];
  }

  /** Rescans the folder; concurrent calls coalesce into one more scan. */
  reload(): Promise<void> {
    if (this.#closed || this.#opts.dir === undefined) return Promise.resolve();
    if (this.#again) return this.#scan;
    this.#again = true;
    this.#scan = this.#scan.then(async () => {
      this.#again = false;
      await this.#rescan(this.#opts.dir!);
    });
    return this.#scan;
  }

  async #rescan(dir: string): Promise<void> {
    const log = this.#opts.log ?? (() => undefined);
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => MODULE_RE.test(n)).sort();
    } catch (e) {
      log({ msg: 'policy folder unreadable', dir, error: (e as Error).message });
      names = [];
    }
    let changed = false;
    for (const gone of [...this.#dirFiles.keys()].filter((f) => !names.includes(basename(f)))) {
      this.#dirFiles.delete(gone);
      changed = true;
      log({ msg: 'policy stages removed', file: gone });
    }
    for (const n of names) {
      const file = join(dir, n);
      const st = await stat(file).catch(() => undefined);
      if (!st?.isFile() || this.#dirFiles.get(file)?.mtimeMs === st.mtimeMs) continue;
      try {
        const stages = await importStages(file, st.mtimeMs);
        this.#dirFiles.set(file, { mtimeMs: st.mtimeMs, stages });
        changed = true;
        log({ msg: 'policy stages loaded', file, stages: stages.map((s) => s.name) });
      } catch (e) {
        log({ msg: 'policy module failed to load; keeping what was loaded before', file, error: (e as Error).message });
      }
    }
    if (changed) this.#apply();
  }

  /** Puts the stages in the registry in order: the listed modules', then the folder's by file name. */
  #apply(): void {
    const files = [...this.#dirFiles.keys()].sort();
    const wanted = [...this.#fixed, ...files.flatMap((f) => this.#dirFiles.get(f)!.stages)];
    // Synchronous: a job reads the registry's stages between two scans, never half of one.
    // Only the stages this loader put there: others (added in code) stay.
    for (const name of this.#applied) this.#registry.removeStage(name);
    this.#applied = [];
    const taken = new Set(this.#registry.stages.map((s) => s.name));
    for (const s of wanted) {
      if (taken.has(s.name)) {
        this.#opts.log?.({ msg: 'policy stage name used twice; the first one counts', stage: s.name });
        continue;
      }
      taken.add(s.name);
      this.#registry.addStage(s);
      this.#applied.push(s.name);
    }
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    if (this.#timer) clearInterval(this.#timer);
  }
}
