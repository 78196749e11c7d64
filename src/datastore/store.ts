import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, type IBackoff } from 'cockatiel';
import { CompareResult, CompareTarget, Etcd3, type IKeyValue, isRecoverableError, type Watcher } from 'etcd3';
import { DatastoreError } from '../util/errors.js';

export interface Versioned<T> {
  key: string;
  value: T;
  /** etcd mod_revision of the key: the token for compare-and-swap. */
  modRevision: string;
}

/**
 * A typed view of etcd v3: JSON values, compare-and-swap by mod revision, prefix watches.
 * One instance per process; `close()` when done.
 */
export class Datastore {
  readonly client: Etcd3;

  constructor(readonly endpoints: string[]) {
    // gRPC's default 4 MiB would fail a list, or a watch event batch, of more than that (one
    // apply may write up to ETCD_MAX_REQUEST_BYTES): take whatever etcd sends.
    this.client = new Etcd3({
      hosts: endpoints,
      dialTimeout: 3_000,
      grpcOptions: { 'grpc.max_receive_message_length': -1 },
      // The lab's etcd is one local server that a fault or `heal` restarts in well under a second.
      // The client's defaults (a circuit breaker that stays open 5 s after 3 failures, watch
      // retries backing off from 128 ms to 30 s) left the agents blind for ~7 s after a restart.
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 200, breaker: new ConsecutiveBreaker(3) }),
        // etcd3 calls next() on it first, as on its own default (an ExponentialBackoff): its type is older.
        watchBackoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 1_000 }) as unknown as IBackoff<unknown>,
      },
    });
  }

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const res = await this.client.get(key).exec();
    const kv = res.kvs[0];
    return kv ? decode<T>(kv) : undefined;
  }

  /** Everything under a prefix, and the store revision it was read at (to watch from). */
  async list<T>(prefix: string): Promise<{ items: Versioned<T>[]; revision: string }> {
    const res = await this.client.getAll().prefix(prefix).exec();
    return { items: res.kvs.map((kv) => decode<T>(kv)), revision: res.header.revision };
  }

  async put(key: string, value: unknown): Promise<void> {
    await this.client.put(key).value(JSON.stringify(value));
  }

  /** Writes only if the key does not exist. Returns false if it did. */
  async create(key: string, value: unknown): Promise<boolean> {
    return (await this.createAt(key, value)) !== undefined;
  }

  /** As create, returning the record's mod revision (for a compare-and-swap after it), undefined if the key existed. */
  async createAt(key: string, value: unknown): Promise<string | undefined> {
    const res = await this.client
      .if(key, 'Version', '==', 0)
      .then(this.client.put(key).value(JSON.stringify(value)))
      .commit();
    return res.succeeded ? res.header.revision : undefined;
  }

  /**
   * Puts and deletes in ONE transaction: all of them or none. With `unchangedSince`, commits only
   * if no key under each prefix was created or modified after that revision (a `list` revision),
   * so that what was checked is still what is written over. Returns the revision of the write
   * (what a watcher must have seen for the change to have reached it), or false, writing
   * nothing. (A key deleted under the prefix since then goes unnoticed.) A lab's etcd refuses
   * more than ETCD_MAX_TXN_OPS operations or ETCD_MAX_REQUEST_BYTES in a transaction (limits.ts).
   */
  async txn(ops: { puts?: { key: string; value: unknown }[]; deletes?: string[]; unchangedSince?: { prefix: string; revision: string }[] }): Promise<string | false> {
    const compare = (ops.unchangedSince ?? []).map(({ prefix, revision }) => ({
      key: Buffer.from(prefix),
      range_end: prefixEnd(prefix),
      target: CompareTarget.Mod,
      result: CompareResult.Less,
      mod_revision: (BigInt(revision) + 1n).toString(),
    }));
    const success = [
      ...(ops.puts ?? []).map((p) => ({ request_put: { key: Buffer.from(p.key), value: Buffer.from(JSON.stringify(p.value)) } })),
      ...(ops.deletes ?? []).map((key) => ({ request_delete_range: { key: Buffer.from(key) } })),
    ];
    const res = await this.client.kv.txn({ compare, success, failure: [] });
    return res.succeeded && res.header.revision;
  }

  /**
   * Several compare-and-swaps in one transaction: each key is written (or deleted, `value`
   * undefined) only if it is still at its `modRevision` (undefined: only if it does not exist);
   * all or none. Returns false if someone else wrote one of them first.
   */
  async casAll(entries: { key: string; modRevision?: string; value?: unknown }[]): Promise<boolean> {
    const [first, ...rest] = entries;
    if (!first) return true;
    const txn = first.modRevision === undefined ? this.client.if(first.key, 'Version', '==', 0) : this.client.if(first.key, 'Mod', '==', first.modRevision);
    for (const e of rest) {
      if (e.modRevision === undefined) txn.and(e.key, 'Version', '==', 0);
      else txn.and(e.key, 'Mod', '==', e.modRevision);
    }
    const ops = entries.map((e) => (e.value === undefined ? this.client.delete().key(e.key) : this.client.put(e.key).value(JSON.stringify(e.value))));
    return (await txn.then(...ops).commit()).succeeded;
  }

  /** Writes only if the key is still at `modRevision`. Returns false if someone else wrote first. */
  async cas(key: string, value: unknown, modRevision: string): Promise<boolean> {
    const res = await this.client
      .if(key, 'Mod', '==', modRevision)
      .then(this.client.put(key).value(JSON.stringify(value)))
      .commit();
    return res.succeeded;
  }

  async delete(key: string): Promise<void> {
    await this.client.delete().key(key);
  }

  /**
   * Calls `onEvent` for each change under `prefix` from now on. The watcher reconnects by itself
   * after etcd restarts (etcd3 resumes from the last seen revision).
   */
  async watch(prefix: string, onEvent: (type: 'put' | 'delete', key: string) => void, onError?: (err: Error) => void): Promise<Watcher> {
    const w = await this.client.watch().prefix(prefix).create();
    w.on('put', (kv) => onEvent('put', kv.key.toString()));
    w.on('delete', (kv) => onEvent('delete', kv.key.toString()));
    // etcd3 reconnects a broken watch by itself; an 'error' without a listener would crash the
    // process. Callers resync periodically, so a lost event costs one resync period at most.
    w.on('error', (err: Error) => onError?.(err));
    return w;
  }

  /** Waits until etcd answers, for a freshly started server. */
  async ready(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      try {
        await this.client.get('/calico/ready-probe').exec();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new DatastoreError(`etcd at ${this.endpoints.join(',')} did not answer within ${timeoutMs} ms`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  close(): void {
    this.client.close();
  }
}

function decode<T>(kv: IKeyValue): Versioned<T> {
  return { key: kv.key.toString(), value: JSON.parse(kv.value.toString()) as T, modRevision: kv.mod_revision };
}

/** The end of the key range of a prefix: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
