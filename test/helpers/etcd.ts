/**
 * A real, throw-away etcd for tests: the Debian etcd 3.4 binary in a fresh temporary directory,
 * reachable only through unix sockets (no TCP port is opened, so parallel runs cannot collide).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ETCD_LIMIT_FLAGS } from '../../src/datastore/limits.js';
import { Datastore } from '../../src/datastore/store.js';

export interface EtcdServer {
  /** etcd3 client endpoint: `unix:///<tmpdir>/client:1`. */
  endpoint: string;
  /** Stops etcd (SIGTERM, SIGKILL after 2 s), waits for it to exit and removes its directory. */
  stop(): Promise<void>;
}

const ETCD = '/usr/bin/etcd';
const NAME = 'calico-sim-test';
const READY_TIMEOUT_MS = 15_000;
const KILL_AFTER_MS = 2_000;

/** Starts etcd and resolves once it answers requests. Cleans up after itself if it fails. */
export async function startEtcd(): Promise<EtcdServer> {
  const dir = await mkdtemp(join(tmpdir(), 'calico-sim-etcd-'));
  // etcd 3.4 wants host:port URLs even for unix sockets, so the socket paths are relative to cwd.
  const child = spawn(
    ETCD,
    [
      '--name',
      NAME,
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      'unix://client:1',
      '--advertise-client-urls',
      'unix://client:1',
      '--listen-peer-urls',
      'unix://peer:1',
      '--initial-advertise-peer-urls',
      'unix://peer:1',
      '--initial-cluster',
      `${NAME}=unix://peer:1`,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
      // The limits of a lab's etcd.
      ...ETCD_LIMIT_FLAGS,
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderrTail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-2_000);
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
    child.once('error', (err) => resolve(err.message));
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  const endpoint = `unix://${dir}/client:1`;
  const probe = new Datastore([endpoint]);
  const died = exited.then((how) => {
    throw new Error(`etcd exited during startup (${how}): ${stderrTail.trim()}`);
  });
  died.catch(() => undefined);
  try {
    await Promise.race([probe.ready(READY_TIMEOUT_MS), died]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.close();
  }
  return { endpoint, stop };
}
