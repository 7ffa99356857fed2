/**
 * Deep freeze for plain data (objects, arrays, strings): what a definition is
 * made of. Cheaper than immer's generic freeze, which also handles Maps and
 * Sets and checks drafts; stops at what is already frozen.
 */
export function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  freezeTree(value as object);
  return value;
}

/**
 * Freezes `o` and what it holds. The leaves (mostly strings) are skipped
 * before the call rather than inside it: most values of a definition are
 * strings, and a call per string was a third of the time.
 */
function freezeTree(o: object): void {
  Object.freeze(o);
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) {
      const v: unknown = o[i];
      if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) freezeTree(v);
    }
  } else {
    for (const k in o) {
      const v: unknown = (o as Record<string, unknown>)[k];
      if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) freezeTree(v);
    }
  }
}
