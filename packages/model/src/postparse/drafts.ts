/**
 * A lean `produceWithPatches` for the rules' provenance: immer 11's
 * copy-on-write drafts and patch generation, kept to what a definition holds
 * (plain objects and arrays), with the same semantics and the same patch
 * order, at a fraction of the cost. What it leaves out:
 *  - a child's draft lives in a side table until its parent is first written,
 *    where immer copies the parent on every read of an object child;
 *  - no Map/Set, no array-methods plugin, no scopes nesting, no revocation,
 *    no inverse patches, no closures per draft.
 *
 * Patch order is immer's: every draft registers its finalisation when it is
 * made (and an assignment of a draft or of a new object registers one too);
 * they run last-registered first, each generating the patches of the keys
 * assigned on its own object: an object's keys in first-assignment order,
 * an array by index (replace, then add past the old end, or remove from the
 * old end down). A draft that was moved or dropped from its place records
 * nothing; a new object put in the tree is recorded whole.
 *
 * The drafts answer immer's own `isDraft`, `original` and `current` (they
 * carry immer's state symbol and the fields `current` reads), so a rule may
 * keep using those on them.
 */
import type { Immer, Patch } from 'immer';

const DRAFT_STATE: unique symbol = Symbol.for('immer-state') as never;
const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;
const getProto = Object.getPrototypeOf;
const ObjectProto = Object.prototype;
const ArrayProto = Array.prototype;

/** immer's message texts (development build), for the errors rules could provoke. */
const DIE = {
  returnedAndModified: '[Immer] An immer producer returned a new value *and* modified its draft. Either return a new value *or* modify the draft.',
  defineProperty: '[Immer] Object.defineProperty() cannot be used on an Immer draft',
  setPrototypeOf: '[Immer] Object.setPrototypeOf() cannot be used on an Immer draft',
  deleteIndex: '[Immer] Immer only supports deleting array indices',
  setIndex: "[Immer] Immer only supports setting array indices and the 'length' property",
};

interface Scope {
  /** What `current` reads: useStrictShallowCopy_, shouldUseStrictIteration(). */
  readonly immer_: Immer;
  /** Finalisation steps, in registration order; run last first. */
  readonly events: Step[];
  drafts: number;
  unfinalized: number;
  handled: Set<object> | undefined;
  processed: Set<State> | undefined;
  readonly patches: Patch[];
}

type Key = string | number;

interface State {
  /** 0 object, 1 array (immer's ArchType). */
  readonly type_: 0 | 1;
  readonly base_: any;
  copy_: any;
  modified_: boolean;
  finalized_: boolean;
  assigned_: Map<string, boolean> | undefined;
  readonly parent_: State | undefined;
  readonly key_: Key | undefined;
  draft_: any;
  readonly scope_: Scope;
  /** Child drafts made by reads while there is no copy (immer keeps them in the copy). */
  kids: Record<string, any> | undefined;
  draftLocations: Map<any, Key[]> | undefined;
}

/** Finalisation steps of an assignment: of a draft (put elsewhere), of a new object. */
const CROSS = 2, NESTED = 3;
interface Ev {
  readonly k: number;
  readonly s: State;
  readonly key?: string;
  readonly v?: any;
}
/** A registered step: a draft's own (Root or Child, the state itself) or an assignment's. */
type Step = State | Ev;

function isObj(v: unknown): v is Record<PropertyKey, any> {
  return v !== null && typeof v === 'object';
}

const ctorString = Object.prototype.constructor.toString();

/** immer's isPlainObject. */
function isPlain(v: object): boolean {
  const proto = getProto(v);
  if (proto === null || proto === ObjectProto) return true;
  const Ctor = hasOwn.call(proto, 'constructor') && proto.constructor;
  if (Ctor === Object) return true;
  if (typeof Ctor !== 'function') return false;
  return Function.toString.call(Ctor) === ctorString;
}

const DRAFTABLE = Symbol.for('immer-draftable');

/** immer's isDraftable, for values already known to be objects. */
function draftable(v: any): boolean {
  if (Array.isArray(v)) return true;
  const proto = getProto(v);
  if (proto === ObjectProto || proto === null) return true;
  return isPlain(v) || !!v[DRAFTABLE] || !!v.constructor?.[DRAFTABLE] || v instanceof Map || v instanceof Set;
}

/** Maps and Sets: immer drafts them with its MapSet plugin, which this code base never loads. */
function mapOrSet(v: any): boolean {
  return v instanceof Map || v instanceof Set;
}

/** A base the lean drafts do not take (not an object, a draft already, a Map or Set): the caller uses immer. */
export class UnsupportedDraft extends Error {}

function stateOf(v: any): State | undefined {
  return isObj(v) ? (v as any)[DRAFT_STATE] : undefined;
}

function mine(v: any, scope: Scope): State | undefined {
  const s = stateOf(v);
  return s !== undefined && s.scope_ === scope ? s : undefined;
}

/** immer's shallowCopy for plain objects and arrays (not strict). */
function shallowCopy(base: any): any {
  if (Array.isArray(base)) {
    if (Object.isFrozen(base) && getProto(base) === ArrayProto && base[Symbol.iterator] === ArrayProto[Symbol.iterator]) return [...base];
    return ArrayProto.slice.call(base);
  }
  const proto = getProto(base);
  if (proto !== null && (proto === ObjectProto || isPlain(base))) return { ...base };
  return Object.assign(Object.create(proto), base);
}

function latest(s: State): any {
  return s.copy_ ?? s.base_;
}

/** What immer's copy would hold at `key`: the copy's value, else a draft made by a read, else the base's. */
function slot(s: State, key: Key): any {
  if (s.copy_) return s.copy_[key];
  const kids = s.kids;
  if (kids !== undefined && hasOwn.call(kids, key)) return kids[key as string];
  return s.base_[key];
}

function prepareCopy(s: State): void {
  if (s.copy_) return;
  s.assigned_ = new Map();
  const copy = shallowCopy(s.base_);
  const kids = s.kids;
  if (kids !== undefined) {
    for (const k in kids) copy[k] = kids[k];
    s.kids = undefined;
  }
  s.copy_ = copy;
}

function markChanged(s: State | undefined): void {
  while (s !== undefined && !s.modified_) {
    s.modified_ = true;
    // immer's parents already have their copy (made by the read that made the child).
    prepareCopy(s);
    s = s.parent_;
  }
}

function createDraft(scope: Scope, base: any, parent: State | undefined, key: Key | undefined): any {
  if (mapOrSet(base)) throw new Error("[Immer] The plugin for 'MapSet' has not been loaded into Immer. To enable the plugin, import and call `enableMapSet()` when initializing your application.");
  const isArray = Array.isArray(base);
  const s: State = {
    type_: isArray ? 1 : 0,
    base_: base,
    copy_: null,
    modified_: false,
    finalized_: false,
    assigned_: undefined,
    parent_: parent,
    key_: key,
    draft_: null,
    scope_: scope,
    kids: undefined,
    draftLocations: undefined,
  };
  const proxy = isArray ? new Proxy([s] as any, arrayTraps) : new Proxy(s as any, objectTraps);
  s.draft_ = proxy;
  scope.drafts++;
  scope.events.push(s);
  return proxy;
}

/** A key the object does not own: read on its prototypes, a getter with the draft as `this` (immer's readPropFromProto). */
function readFromProto(s: State, source: any, prop: PropertyKey): any {
  const proto = getProto(source);
  return proto === null ? undefined : Reflect.get(proto, prop, s.draft_);
}

function get(s: State, prop: PropertyKey): any {
  if (prop === DRAFT_STATE) return s;
  const copy = s.copy_;
  const source = copy ?? s.base_;
  const value = source[prop as string];
  // Primitives and functions: own or inherited, the value read is the answer (no
  // prototype of plain data has a getter but __proto__, which gives an object).
  if (value === null || (typeof value !== 'object' && (value !== undefined || hasOwn.call(source, prop)))) return value;
  if (!hasOwn.call(source, prop)) return readFromProto(s, source, prop);
  if (value === undefined) return value;
  if (copy) {
    if (s.finalized_ || !draftable(value)) return value;
    if (value === s.base_[prop as string]) {
      const key = s.type_ === 1 ? +(prop as string) : (prop as string);
      return (copy[key] = createDraft(s.scope_, value, s, key));
    }
    return value;
  }
  const kids = s.kids;
  if (kids !== undefined) {
    const kid = kids[prop as string];
    if (kid !== undefined) return kid;
  }
  if (s.finalized_ || !draftable(value)) return value;
  const draft = createDraft(s.scope_, value, s, s.type_ === 1 ? +(prop as string) : (prop as string));
  (s.kids ??= Object.create(null))[prop as string] = draft;
  return draft;
}

function set(s: State, prop: string, value: any): boolean {
  if (!s.modified_) {
    const current = slot(s, prop);
    const cs = mine(current, s.scope_);
    if (cs !== undefined && cs.base_ === value) {
      // The original put back where its draft was: the slot holds the original again.
      if (s.copy_) {
        s.copy_[prop] = value;
        s.assigned_!.delete(prop);
      } else delete s.kids![prop];
      return true;
    }
    if (Object.is(value, current) && (value !== undefined || hasOwn.call(s.base_, prop))) return true;
    prepareCopy(s);
    markChanged(s);
  }
  const copy = s.copy_;
  if ((copy[prop] === value && (value !== undefined || hasOwn.call(copy, prop))) || (Number.isNaN(value) && Number.isNaN(copy[prop]))) return true;
  copy[prop] = value;
  s.assigned_!.set(prop, true);
  // handleCrossReference
  if (isObj(value)) {
    const vs = stateOf(value);
    if (vs !== undefined) {
      if (vs.scope_ === s.scope_) s.scope_.events.push({ k: CROSS, s, key: prop, v: value });
    } else if (draftable(value)) s.scope_.events.push({ k: NESTED, s, key: prop, v: value });
  }
  return true;
}

const objectTraps: ProxyHandler<State> = {
  get,
  has(s, prop) {
    return prop in latest(s);
  },
  ownKeys(s) {
    return Reflect.ownKeys(latest(s));
  },
  set(s, prop, value) {
    return set(s, prop as string, value);
  },
  deleteProperty(s, prop) {
    prepareCopy(s);
    const key = prop as string;
    if (s.base_[key] !== undefined || key in s.base_) {
      s.assigned_!.set(key, false);
      markChanged(s);
    } else s.assigned_!.delete(key);
    delete s.copy_[key];
    return true;
  },
  getOwnPropertyDescriptor(s, prop) {
    const owner = latest(s);
    if (!hasOwn.call(owner, prop)) return undefined;
    return { writable: true, configurable: s.type_ !== 1 || prop !== 'length', enumerable: isEnumerable.call(owner, prop), value: slot(s, prop as string) };
  },
  defineProperty() {
    throw new Error(DIE.defineProperty);
  },
  getPrototypeOf(s) {
    return getProto(s.base_);
  },
  setPrototypeOf() {
    throw new Error(DIE.setPrototypeOf);
  },
};

const arrayTraps: ProxyHandler<[State]> = {
  get(t, prop) {
    return get(t[0], prop);
  },
  has(t, prop) {
    return prop in latest(t[0]);
  },
  ownKeys(t) {
    return Reflect.ownKeys(latest(t[0]));
  },
  getOwnPropertyDescriptor(t, prop) {
    return objectTraps.getOwnPropertyDescriptor!(t[0], prop);
  },
  defineProperty() {
    throw new Error(DIE.defineProperty);
  },
  getPrototypeOf(t) {
    return getProto(t[0].base_);
  },
  setPrototypeOf() {
    throw new Error(DIE.setPrototypeOf);
  },
  deleteProperty(t, prop) {
    if (isNaN(parseInt(prop as string))) throw new Error(DIE.deleteIndex);
    return set(t[0], prop as string, undefined);
  },
  set(t, prop, value) {
    if (prop !== 'length' && isNaN(parseInt(prop as string))) throw new Error(DIE.setIndex);
    return set(t[0], prop as string, value);
  },
};

// ---- finalisation (immer's finalize.ts and the patches plugin) ----

const finalValue = (s: State): any => (s.modified_ ? s.copy_ : s.base_);

function markFinalized(s: State): void {
  s.finalized_ = true;
  s.scope_.unfinalized--;
}

function updateDraftInParent(parent: State, draft: any, finalized: any, key: Key | undefined): void {
  const copy = parent.copy_;
  if (key !== undefined) {
    if (copy) {
      if (copy[key] === draft) {
        copy[key] = finalized;
        return;
      }
    } else if (parent.kids !== undefined && parent.kids[key as string] === draft) {
      // An unchanged parent: its child is unchanged too, and the slot holds the original again.
      delete parent.kids[key as string];
      return;
    }
  }
  let locations = parent.draftLocations;
  if (!locations) {
    locations = parent.draftLocations = new Map();
    if (copy) {
      if (Array.isArray(copy)) for (let i = 0; i < copy.length; i++) locate(locations, i, copy[i]);
      else for (const k of Reflect.ownKeys(copy)) locate(locations, k as string, copy[k as string]);
    } else if (parent.kids) for (const k in parent.kids) locate(locations, parent.type_ === 1 ? +k : k, parent.kids[k]);
  }
  const at = locations.get(draft);
  if (!at) return;
  for (const k of at) {
    if (copy) copy[k] = finalized;
    else if (finalized === parent.base_[k]) delete parent.kids![k as string];
  }
}

function locate(locations: Map<any, Key[]>, k: Key, v: any): void {
  if (stateOf(v) === undefined) return;
  const keys = locations.get(v);
  if (keys) keys.push(k);
  else locations.set(v, [k]);
}

function getPath(s: State, path: Key[] = []): Key[] | null {
  if (s.key_ !== undefined) {
    const parent = s.parent_!;
    const valueAtKey = slot(parent, s.key_);
    if (valueAtKey === undefined) return null;
    if (valueAtKey !== s.draft_ && valueAtKey !== s.copy_) return null;
    const vs = stateOf(valueAtKey);
    if (vs != null && vs.base_ !== s.base_) return null;
    if (!hasOwn.call(latest(parent), s.key_)) return null;
    path.push(s.key_);
  }
  if (s.parent_) return getPath(s.parent_, path);
  path.reverse();
  return path;
}

function deepClonePatchValue(obj: any): any {
  if (!isObj(obj) || !draftable(obj)) return obj;
  if (Array.isArray(obj)) return obj.map(deepClonePatchValue);
  const cloned = Object.create(getProto(obj));
  for (const key in obj) cloned[key] = deepClonePatchValue(obj[key]);
  if (hasOwn.call(obj, DRAFTABLE)) cloned[DRAFTABLE] = obj[DRAFTABLE];
  return cloned;
}

function patchValue(v: any): any {
  return stateOf(v) !== undefined ? deepClonePatchValue(v) : v;
}

function generatePatches(s: State, basePath: Key[]): void {
  const scope = s.scope_;
  const processed = (scope.processed ??= new Set());
  if (processed.has(s)) return;
  processed.add(s);
  if (s.type_ === 1) arrayPatches(s, basePath, scope.patches);
  else objectPatches(s, basePath, scope.patches);
}

function arrayPatches(s: State, basePath: Key[], out: Patch[]): void {
  const assigned = s.assigned_;
  const copy = s.copy_ as any[];
  const base = s.base_ as any[];
  if (copy.length < base.length) {
    // immer swaps base and copy (and patches with inverse patches): the forward
    // patches are the inverse side: replaces by the new items, removes from the end.
    for (let i = 0; i < copy.length; i++) {
      const item = copy[i];
      if (assigned?.get(String(i)) && base[i] !== item) out.push({ op: 'replace', path: basePath.concat([i]), value: patchValue(item) });
    }
    for (let i = base.length - 1; copy.length <= i; --i) out.push({ op: 'remove', path: basePath.concat([i]) });
    return;
  }
  for (let i = 0; i < base.length; i++) {
    const item = copy[i];
    if (assigned?.get(String(i)) && item !== base[i]) {
      const cs = stateOf(item);
      if (cs && cs.modified_) continue;
      out.push({ op: 'replace', path: basePath.concat([i]), value: patchValue(item) });
    }
  }
  for (let i = base.length; i < copy.length; i++) out.push({ op: 'add', path: basePath.concat([i]), value: patchValue(copy[i]) });
}

function objectPatches(s: State, basePath: Key[], out: Patch[]): void {
  const base = s.base_;
  const copy = s.copy_;
  for (const [key, assigned] of s.assigned_!) {
    const orig = base[key];
    const value = copy[key];
    const op = !assigned ? 'remove' : hasOwn.call(base, key) ? 'replace' : 'add';
    if (orig === value && op === 'replace') continue;
    const path = basePath.concat(key);
    out.push(op === 'remove' ? { op, path } : { op, path, value: patchValue(value) });
  }
}

function generatePatchesAndFinalize(s: State): void {
  if (s.modified_ && !s.finalized_ && (s.assigned_?.size ?? 0) > 0) {
    const path = getPath(s);
    if (path) generatePatches(s, path);
    markFinalized(s);
  }
}

/** immer's handleValue: the drafts inside a new object put in the tree become their final values. */
function handleValue(target: any, scope: Scope): void {
  if (scope.unfinalized < 1) return; // immer: no auto-freeze and no draft left
  const handled = (scope.handled ??= new Set());
  if (!isObj(target) || stateOf(target) !== undefined || handled.has(target) || !draftable(target) || Object.isFrozen(target)) return;
  handled.add(target);
  if (Array.isArray(target)) for (let i = 0; i < target.length; i++) handleChild(target, i, target[i], scope);
  else for (const k of Object.keys(target)) handleChild(target, k, target[k], scope);
}

function handleChild(target: any, key: Key, value: any, scope: Scope): void {
  if (!isObj(value)) return;
  const vs = stateOf(value);
  if (vs !== undefined) {
    if (vs.scope_ === scope) {
      target[key] = finalValue(vs);
      markFinalized(vs);
    }
  } else if (draftable(value)) handleValue(value, scope);
}

function run(step: Step, scope: Scope): void {
  let ev: Ev;
  if ('type_' in step) {
    const s = step;
    if (s.parent_ === undefined || s.key_ === undefined) {
      if (s.modified_) generatePatches(s, []);
    } else {
      updateDraftInParent(s.parent_, s.draft_, finalValue(s), s.key_);
      generatePatchesAndFinalize(s);
    }
    return;
  } else ev = step;
  const s = ev.s;
  switch (ev.k) {
    case CROSS: {
      prepareCopy(s);
      const vs = stateOf(ev.v)!;
      updateDraftInParent(s, ev.v, finalValue(vs), ev.key);
      return;
    }
    case NESTED: {
      const copy = latest(s);
      if (copy[ev.key!] === ev.v && scope.drafts > 1 && s.assigned_?.get(ev.key!) === true && s.copy_) handleValue(s.copy_[ev.key!], scope);
      return;
    }
  }
}

/** Whether a value is a draft of this module (for tests). */
export function isLeanDraft(v: unknown): boolean {
  const s = stateOf(v);
  return s !== undefined && 'kids' in s;
}

/**
 * immer's `produceWithPatches(base, recipe)` for plain data (no auto-freeze):
 * the next state (the base itself when nothing changed) and the forward patches.
 * Throws UnsupportedDraft, before running the recipe, for a base it cannot draft.
 */
export function produceWithPatchesLean<T>(immer: Immer, base: T, recipe: (draft: any) => unknown): [T, Patch[]] {
  if (!isObj(base) || stateOf(base) !== undefined || !draftable(base) || mapOrSet(base)) throw new UnsupportedDraft();
  const scope: Scope = { immer_: immer, events: [], drafts: 0, unfinalized: 0, handled: undefined, processed: undefined, patches: [] };
  const proxy = createDraft(scope, base, undefined, undefined);
  const root: State = proxy[DRAFT_STATE];
  const result = recipe(proxy);
  scope.unfinalized = scope.drafts;
  if (result !== undefined && result !== proxy) {
    if (root.modified_) throw new Error(DIE.returnedAndModified);
    let value: any = result;
    if (isObj(value)) {
      const vs = stateOf(value);
      if (vs !== undefined) value = vs.scope_ === scope ? finalValue(vs) : value;
      else if (draftable(value)) handleValue(value, scope);
    }
    return [value, [{ op: 'replace', path: [], value }]];
  }
  if (!root.modified_) return [root.base_, []];
  const events = scope.events;
  let step: Step | undefined;
  while ((step = events.pop()) !== undefined) run(step, scope);
  generatePatchesAndFinalize(root);
  return [root.copy_, scope.patches];
}
