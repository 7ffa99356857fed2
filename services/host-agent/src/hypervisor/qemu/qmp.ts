/**
 * A QMP client over QEMU's unix socket: the greeting, qmp_capabilities,
 * commands matched to their responses by id, asynchronous events, and the
 * socket's close. Errors read as libvirt's (qemuMonitorJSONCheckError):
 * INTERNAL_ERROR "unable to execute QEMU command 'cmd': desc".
 */
import { connect, type Socket } from 'node:net';
import { VirtError } from '@virtflow/model';

export interface QmpGreeting {
  readonly QMP: { readonly version: { readonly qemu: { readonly major: number; readonly minor: number; readonly micro: number }; readonly package: string }; readonly capabilities: readonly string[] };
}

export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
  readonly timestamp?: { readonly seconds: number; readonly microseconds: number };
}

/** The QEMU error of a failed command, kept as the VirtError's cause. */
export interface QmpErrorBody {
  readonly class: string;
  readonly desc: string;
}

export interface QmpConnectOptions {
  /** Give up after this long without a greeting (default 10 s). */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class QmpClient {
  readonly greeting: QmpGreeting;
  #socket: Socket;
  #buffer = '';
  #nextId = 1;
  #pending = new Map<string, Pending>();
  #eventListeners = new Set<(ev: QmpEvent) => void>();
  #closeListeners = new Set<() => void>();
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket, greeting: QmpGreeting, rest: string) {
    this.#socket = socket;
    this.greeting = greeting;
    let done!: () => void;
    this.closed = new Promise((r) => (done = r));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk.toString('utf8')));
    socket.on('error', () => {
      // 'close' follows and reports it.
    });
    socket.on('close', () => {
      this.#closed = true;
      for (const p of this.#pending.values()) p.reject(new VirtError('INTERNAL_ERROR', `qemu closed the monitor while running '${p.command}'`));
      this.#pending.clear();
      for (const l of this.#closeListeners) l();
      done();
    });
    if (rest) this.#onData(rest);
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const { socket, greeting, rest } = await new Promise<{ socket: Socket; greeting: QmpGreeting; rest: string }>((resolve, reject) => {
      const socket = connect(path);
      let buf = '';
      const timer = setTimeout(() => fail(new VirtError('OPERATION_TIMEOUT', `no QMP greeting on ${path} within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onData = (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('error', fail);
        socket.off('close', onClose);
        try {
          const greeting = JSON.parse(buf.slice(0, nl)) as QmpGreeting;
          if (!greeting.QMP) throw new Error('not a QMP greeting');
          resolve({ socket, greeting, rest: buf.slice(nl + 1) });
        } catch (e) {
          fail(new VirtError('INTERNAL_ERROR', `unexpected QMP greeting on ${path}: ${(e as Error).message}`));
        }
      };
      const onClose = () => fail(new VirtError('INTERNAL_ERROR', `qemu closed the monitor ${path} before its greeting`));
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('close', onClose);
    });
    const client = new QmpClient(socket, greeting, rest);
    try {
      await client.execute('qmp_capabilities');
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Runs one command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(new VirtError('INTERNAL_ERROR', `qemu monitor is closed: cannot run '${command}'`));
    const id = `vf-${this.#nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.#socket.write(`${JSON.stringify(args === undefined ? { execute: command, id } : { execute: command, arguments: args, id })}\n`);
    });
  }

  /** Every asynchronous event, in arrival order. Returns an unsubscribe function. */
  onEvent(listener: (ev: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Called once when the socket closes (QEMU exited, or close()). */
  onClose(listener: () => void): () => void {
    if (this.#closed) queueMicrotask(listener);
    else this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Resolves with the first event named `name` that `match` accepts. */
  waitEvent(name: string, match: (ev: QmpEvent) => boolean = () => true, timeoutMs = 30_000): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        offClose();
        reject(new VirtError('OPERATION_TIMEOUT', `no QMP ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((ev) => {
        if (ev.event !== name || !match(ev)) return;
        clearTimeout(timer);
        off();
        offClose();
        resolve(ev);
      });
      const offClose = this.onClose(() => {
        clearTimeout(timer);
        off();
        reject(new VirtError('INTERNAL_ERROR', `qemu closed the monitor while waiting for ${name}`));
      });
    });
  }

  /** Disconnects; QEMU keeps running. */
  close(): void {
    this.#socket.destroy();
  }

  #onData(text: string): void {
    this.#buffer += text;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl).trim();
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line) this.#onMessage(line);
    }
  }

  #onMessage(line: string): void {
    let msg: { id?: string; return?: unknown; error?: QmpErrorBody; event?: string; data?: Record<string, unknown>; timestamp?: QmpEvent['timestamp'] };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // QEMU only writes JSON here; a torn line cannot be answered anyway
    }
    if (msg.event !== undefined) {
      const ev: QmpEvent = { event: msg.event, ...(msg.data ? { data: msg.data } : {}), ...(msg.timestamp ? { timestamp: msg.timestamp } : {}) };
      for (const l of [...this.#eventListeners]) l(ev);
      return;
    }
    const p = msg.id !== undefined ? this.#pending.get(msg.id) : undefined;
    if (!p || msg.id === undefined) return;
    this.#pending.delete(msg.id);
    if (msg.error) p.reject(new VirtError('INTERNAL_ERROR', `unable to execute QEMU command '${p.command}': ${msg.error.desc}`, undefined, { cause: msg.error }));
    else p.resolve(msg.return);
  }
}
