/** A deep copy that also works on an immer draft (structuredClone cannot clone a Proxy). */
import { current, isDraft, type Draft } from 'immer';

export function deepClone<T>(v: T): T {
  return structuredClone(isDraft(v) ? (current(v as Draft<T>) as T) : v);
}
