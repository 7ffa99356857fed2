/**
 * A small declarative language for libvirt's XML vocabulary. A spec lists an
 * element's attributes and children in the order libvirt writes them, so one
 * table drives decoding (XML → plain typed data), canonical encoding (data →
 * XML in libvirt's order) and, through `Infer`, the TypeScript types.
 *
 * Keys are camelCase of the XML names (`on_poweroff` → `onPoweroff`); a
 * repeated child is an array, under an explicit plural key where one is given.
 * Whatever a spec does not know is kept in `$unknown` and written back in place.
 */
import type { XmlElement } from '../xml/tree.ts';

/** An element whose only content is text: decoded to a string. */
export interface LeafSpec {
  readonly kind: 'leaf';
}
/** An element kept verbatim (e.g. <metadata>): decoded to an XmlElement. */
export interface RawSpec {
  readonly kind: 'raw';
}
export interface ElementSpec<A extends readonly string[] = readonly string[], C extends ChildMap = ChildMap, T extends boolean = boolean> {
  readonly kind: 'element';
  /** Attributes in libvirt's output order. */
  readonly attrs: A;
  /** Children in libvirt's output order. */
  readonly children: C;
  /** Whether the element carries text (kept under `text`). */
  readonly text: T;
}
export type AnySpec = LeafSpec | RawSpec | ElementSpec<readonly string[], ChildMap, boolean> | LazySpec;
/** A spec given through a function, for recursive vocabularies (backingStore). */
export interface LazySpec {
  readonly kind: 'lazy';
  readonly get: () => AnySpec;
}

export interface ChildSpec<S extends AnySpec = AnySpec, M extends boolean = boolean, K extends string | undefined = string | undefined> {
  readonly spec: S;
  readonly many: M;
  readonly key: K;
}
export type ChildMap = { readonly [xmlName: string]: ChildSpec };

/** What a decoder could not place: written back where it was. */
export interface Unknown {
  /** Attributes the spec does not list, in input order. */
  readonly attrs?: Readonly<Record<string, string>>;
  /** Child elements the spec does not list, each after the known child it followed (null: first). */
  readonly children?: ReadonlyArray<{ readonly after: string | null; readonly node: XmlElement }>;
}

export const leaf: LeafSpec = { kind: 'leaf' };
export const raw: RawSpec = { kind: 'raw' };

export function el<const A extends readonly string[], const C extends ChildMap = {}>(attrs: A, children?: C, opts?: { text?: false }): ElementSpec<A, C, false>;
export function el<const A extends readonly string[], const C extends ChildMap = {}>(attrs: A, children: C | undefined, opts: { text: true }): ElementSpec<A, C, true>;
export function el(attrs: readonly string[], children: ChildMap = {}, opts: { text?: boolean } = {}): ElementSpec {
  return { kind: 'element', attrs, children, text: opts.text ?? false };
}
/** Attributes plus text: `<memory unit='KiB'>1024</memory>`. */
export function textEl<const A extends readonly string[]>(attrs: A): ElementSpec<A, {}, true> {
  return { kind: 'element', attrs, children: {}, text: true };
}
export function one<S extends AnySpec>(spec: S): ChildSpec<S, false, undefined>;
export function one<S extends AnySpec, const K extends string>(spec: S, key: K): ChildSpec<S, false, K>;
export function one(spec: AnySpec, key?: string): ChildSpec {
  return { spec, many: false, key };
}
export function many<S extends AnySpec>(spec: S): ChildSpec<S, true, undefined>;
export function many<S extends AnySpec, const K extends string>(spec: S, key: K): ChildSpec<S, true, K>;
export function many(spec: AnySpec, key?: string): ChildSpec {
  return { spec, many: true, key };
}
export function lazy(get: () => AnySpec): LazySpec {
  return { kind: 'lazy', get };
}
/** An empty marker element such as <readonly/>: present or not. */
export const flag = el([]);

export function resolve(spec: AnySpec): Exclude<AnySpec, LazySpec> {
  let s = spec;
  while (s.kind === 'lazy') s = s.get();
  return s;
}

/** camelCase of an XML name: `on_poweroff` → `onPoweroff`, `suspend-to-mem` → `suspendToMem`. */
export function camel(name: string): string {
  return name.replace(/[-_:.]([a-zA-Z0-9])/g, (_m, c: string) => c.toUpperCase());
}

// ---------------------------------------------------------------- type level

type Camel<S extends string> = S extends `${infer H}${'_' | '-' | ':' | '.'}${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type KeyOf<N extends string, C> = C extends ChildSpec<AnySpec, boolean, infer K> ? (K extends string ? K : Camel<N>) : never;
type ChildValue<C> = C extends ChildSpec<infer S, infer M> ? (M extends true ? Infer<S>[] : Infer<S>) : never;

/** The plain data a spec decodes to. */
export type Infer<S> = S extends LeafSpec
  ? string
  : S extends RawSpec
    ? XmlElement
    : S extends LazySpec
      ? GenericElement
      : S extends ElementSpec<infer A, infer C, infer T>
        ? { [K in A[number] as Camel<K>]?: string } & { [N in keyof C & string as KeyOf<N, C[N]>]?: ChildValue<C[N]> } & (T extends true ? { text?: string } : {}) & { $unknown?: Unknown }
        : never;

/** The shape of any decoded element, for code that walks data generically. */
export interface GenericElement {
  [key: string]: string | GenericElement | GenericElement[] | string[] | XmlElement | XmlElement[] | Unknown | undefined;
}
