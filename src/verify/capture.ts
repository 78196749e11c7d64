import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { names } from '../sim/names.js';
import type { LabState } from '../sim/state.js';
import { BackendError } from '../util/errors.js';

export interface CaptureFile {
  /** The node whose fabric link this is (a host or a router). */
  node: string;
  /** Interface captured on: the fabric side of that node's uplink. */
  link: string;
  file: string;
}

/**
 * tcpdump on every fabric link of a lab (the fabric-side end of each host's and router's
 * uplink, inside the fabric namespace), one pcap file per link. Headers are enough: 256 bytes.
 */
export class FabricCapture {
  private constructor(private readonly procs: ChildProcess[], readonly files: CaptureFile[]) {}

  static async start(state: LabState, dir: string): Promise<FabricCapture> {
    mkdirSync(dir, { recursive: true });
    const nodes = [...state.hosts.map((h) => h.name), ...state.routers.map((r) => r.name)];
    const files = nodes.map((node): CaptureFile => ({ node, link: names.fabricPort(node), file: `${dir}/${node}.pcap` }));
    const procs: ChildProcess[] = [];
    const capture = new FabricCapture(procs, files);
    try {
      await Promise.all(files.map((f) => {
        // -Z root: Debian's tcpdump otherwise drops to a user that cannot write the report dir.
        // --immediate-mode: without it, packets of a short matrix wait in the kernel ring
        // buffer and are lost when tcpdump is stopped.
        const p = spawn('ip', ['netns', 'exec', state.fabric.netns, 'tcpdump', '-i', f.link, '-w', f.file, '-U', '--immediate-mode', '-n', '-s', '256', '-Z', 'root'], { stdio: ['ignore', 'ignore', 'pipe'] });
        procs.push(p);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new BackendError(`tcpdump on ${f.link} did not start`)), 10_000);
          createInterface({ input: p.stderr! }).on('line', (l) => { if (l.includes('listening on')) { clearTimeout(timer); resolve(); } });
          p.once('exit', (code) => { clearTimeout(timer); reject(new BackendError(`tcpdump on ${f.link} exited (${code})`)); });
        });
      }));
    } catch (err) {
      await capture.stop();
      throw err;
    }
    return capture;
  }

  /** Stops every tcpdump (SIGINT: it flushes and closes its file) and waits for them. */
  async stop(): Promise<CaptureFile[]> {
    await Promise.all(this.procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      const timer = setTimeout(() => p.kill('SIGKILL'), 5_000);
      p.once('exit', () => { clearTimeout(timer); resolve(); });
      p.kill('SIGINT');
    })));
    return this.files;
  }
}
