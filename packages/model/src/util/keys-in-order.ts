/**
 * The places, by `order`, of the keys an object has, sorted: for the walks
 * over a definition's devices in libvirt's order of kinds. A <devices> holds
 * a handful of the thirty kinds; looking each kind up on objects of a
 * thousand shapes missed V8's property caches more often than not, where a
 * for-in over the keys present reads the object's own key list.
 */
export function keysInOrder(o: object, order: ReadonlyMap<string, number>): number[] {
  const out: number[] = [];
  for (const key in o) {
    const k = order.get(key);
    if (k === undefined) continue;
    let j = out.length;
    out.push(k);
    while (j > 0 && out[j - 1]! > k) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = k;
  }
  return out;
}
