/**
 * @virtflow/client — the SDK (`connect()`: jobs, reads, event subscriptions,
 * hosts) and the pieces of the `virtflow` CLI others reuse.
 */
export * from './sdk/index.ts';
export { domxml, errorLine, explain, type DomxmlOptions, type Io } from './commands/domxml.ts';
