/**
 * The spawner child (see spawner.ts): reads one JSON request per line on stdin, runs each
 * command as its own child process, answers one JSON line per command on stdout, in the order
 * they end. It imports nothing but Node's own modules, so it stays a small process whose forks
 * are cheap. It ends when its parent closes stdin (the parent ended); it ignores the terminal's
 * signals, so that a Ctrl-C leaves the parent able to run its clean-up commands through it.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { SpawnReply, SpawnRequest } from './spawner.js';

/** After a timeout's SIGTERM, SIGKILL this much later (as execa's forceKillAfterDelay). */
const FORCE_KILL_MS = 5_000;

function runOne(req: SpawnRequest): Promise<SpawnReply> {
  return new Promise((resolve) => {
    const [file, ...args] = req.argv;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: string | undefined;
    const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => undefined); // a command that does not read its input
    child.stdin.end(req.input ?? '');
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_MS).unref();
    }, req.timeoutMs);
    child.once('error', (e) => {
      spawnError = e.message;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        id: req.id,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ...(code === null ? {} : { exitCode: code }),
        ...(signal ? { signal } : {}),
        ...(timedOut ? { timedOut } : {}),
        ...(spawnError ? { error: spawnError } : {}),
      });
    });
  });
}

for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
process.stdin.once('end', () => process.exit(0));
const answer = (reply: SpawnReply) => process.stdout.write(`${JSON.stringify(reply)}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  let req: SpawnRequest;
  try {
    req = JSON.parse(line) as SpawnRequest;
  } catch {
    return; // not a request of ours: nobody waits for an answer
  }
  // spawn throws at once on some arguments (a NUL byte): that command fails, the others go on.
  runOne(req).then(answer, (err: unknown) => answer({ id: req.id, stdout: '', stderr: '', error: err instanceof Error ? err.message : String(err) }));
});
