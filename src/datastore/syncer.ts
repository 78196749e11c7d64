import type { IWatchResponse, Watcher } from 'etcd3';
import { errorMessage } from '../util/errors.js';
import { SNAPSHOT_PREFIXES, type Snapshot, type SnapshotField, snapshotFieldOf, snapshotFromFields } from './snapshot.js';
import type { Datastore } from './store.js';

/** One key that changed: its value before and after (undefined: absent). */
export interface SyncChange {
  key: string;
  old: unknown;
  value: unknown;
}

export type SyncListener = (changes: readonly SyncChange[], revision: string) => void;

/**
 * The agent's local copy of the datastore (Felix's syncer, Typha's cache): one read of
 * everything a Snapshot holds, then the watch's deltas applied in memory. Listeners get each
 * batch of changes as etcd delivers it; `snapshot()` is built from memory, with no datastore
 * read. One Syncer can feed many agents (a process serving several hosts): the datastore then
 * serves one watch per process, not one per host. Heartbeats and other status keys are outside
 * its prefixes, so they wake nobody. A broken watch (etcd restarted, history compacted) is
 * followed by a full re-read, and the listeners get whatever differs.
 */
export class Syncer {
  private cache = new Map<string, unknown>();
  /** The cache's records by Snapshot field, and each field's list as last built. */
  private fields = new Map<SnapshotField, Map<string, unknown>>();
  private lists = new Map<SnapshotField, unknown[]>();
  private watchers: Watcher[] = [];
  private readonly listeners = new Set<SyncListener>();
  private built: Snapshot | undefined;
  private resyncing: Promise<void> | undefined;
  private stopped = false;
  revision = '0';

  constructor(
    private readonly ds: Datastore,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  onChange(fn: SyncListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {
    await this.resync();
  }

  /**
   * Everything as of the last delta applied, built once per change, and then only the lists the
   * change touched (a workload's change rebuilds the workload list, not the blocks or nodes).
   */
  snapshot(): Snapshot {
    this.built ??= snapshotFromFields((f) => {
      let list = this.lists.get(f);
      if (!list) {
        list = [...(this.fields.get(f)?.values() ?? [])];
        this.lists.set(f, list);
      }
      return list;
    }, this.revision);
    return this.built;
  }

  private put(key: string, value: unknown): void {
    this.cache.set(key, value);
    const f = snapshotFieldOf(key);
    if (!f) return;
    const records = this.fields.get(f) ?? new Map<string, unknown>();
    this.fields.set(f, records);
    records.set(key, value);
    this.lists.delete(f);
  }

  private remove(key: string): void {
    this.cache.delete(key);
    const f = snapshotFieldOf(key);
    if (!f) return;
    this.fields.get(f)?.delete(key);
    this.lists.delete(f);
  }

  /** Re-reads everything and re-watches from there; listeners get the differences. */
  resync(): Promise<void> {
    this.resyncing ??= this.doResync().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async doResync(): Promise<void> {
    await this.cancelWatchers();
    const lists = await Promise.all(SNAPSHOT_PREFIXES.map((p) => this.ds.list<unknown>(p)));
    const fresh = new Map<string, unknown>(lists.flatMap((l) => l.items.map((i): [string, unknown] => [i.key, i.value])));
    const changes: SyncChange[] = [];
    for (const [key, value] of fresh) if (JSON.stringify(this.cache.get(key)) !== JSON.stringify(value)) changes.push({ key, old: this.cache.get(key), value });
    for (const [key, old] of this.cache) if (!fresh.has(key)) changes.push({ key, old, value: undefined });
    this.cache = new Map();
    this.fields.clear();
    this.lists.clear();
    for (const [key, value] of fresh) this.put(key, value);
    this.built = undefined;
    this.revision = maxRevision(this.revision, ...lists.map((l) => l.revision));
    if (this.stopped) return;
    this.watchers = await Promise.all(
      SNAPSHOT_PREFIXES.map(async (prefix, i) => {
        const w = await this.ds.client
          .watch()
          .prefix(prefix)
          .startRevision(String(BigInt(lists[i]!.revision) + 1n))
          .create();
        w.on('data', (res) => this.applyDeltas(res));
        // etcd3 resumes a watch after a disconnect by itself; a watch it gives up on (or history
        // compacted past the revision it needs) leaves only a full re-read.
        w.on('error', (err) => {
          this.log(`watch on ${prefix} failed: ${errorMessage(err)}; re-reading the datastore`);
          void this.resync().catch((e: unknown) => this.log(`re-read failed: ${errorMessage(e)}`));
        });
        return w;
      }),
    );
    this.emit(changes);
  }

  private applyDeltas(res: IWatchResponse): void {
    const changes: SyncChange[] = [];
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const old = this.cache.get(key);
      if (ev.type === 'Delete') {
        this.remove(key);
        changes.push({ key, old, value: undefined });
        continue;
      }
      let value: unknown;
      try {
        value = JSON.parse(ev.kv.value.toString());
      } catch {
        this.log(`ignoring ${key}: not JSON`);
        continue;
      }
      this.put(key, value);
      changes.push({ key, old, value });
    }
    this.revision = maxRevision(this.revision, res.header.revision);
    if (changes.length === 0) return;
    this.built = undefined;
    this.emit(changes);
  }

  private emit(changes: readonly SyncChange[]): void {
    for (const fn of this.listeners) fn(changes, this.revision);
  }

  private async cancelWatchers(): Promise<void> {
    const ws = this.watchers;
    this.watchers = [];
    await Promise.all(ws.map((w) => w.cancel().catch(() => undefined)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.resyncing?.catch(() => undefined);
    await this.cancelWatchers();
  }
}

function maxRevision(...revs: string[]): string {
  return revs.reduce((a, b) => (BigInt(b) > BigInt(a) ? b : a));
}
