/**
 * Thin wrappers around the real BIRD 2 binaries (`bird -p`, `birdc`) and pure parsers for the
 * text `birdc` prints. Formats are those of BIRD 2.0.12; see test/unit/fixtures/birdc-*.txt.
 */
import { processRunner, type CommandResult, type CommandRunner } from '../util/exec.js';
import { BackendError, CommandError } from '../util/errors.js';

/** One row of `birdc show protocols`. */
export interface BirdProtocol {
  name: string;
  /** Protocol type: `Device`, `Direct`, `Kernel`, `Static`, `BGP`... */
  proto: string;
  /** `master4`, or `---` when the protocol has several or no channels. */
  table: string;
  /** Protocol state: `up`, `down`, `start`, `stop`. */
  state: string;
  /** When the state last changed, as BIRD prints it (`13:02:41.215`, or a date when older). */
  since: string;
  /** Free text, possibly empty: `Established`, `Active        Socket: Connection refused`... */
  info: string;
}

/** A BGP protocol from `birdc show protocols all`. */
export interface BgpSession {
  name: string;
  /** Protocol state: `up`, `down`, `start`, `stop`. */
  state: string;
  /** BGP state: `Established`, `Active`, `Connect`, `Passive`, `Idle`, `OpenSent`, `Down`... */
  bgpState: string;
  neighborAddress: string;
  neighborAs: number;
  since: string;
  info: string;
}

/** What a successful `birdc configure` reported. */
export type ConfigureOutcome = 'reconfigured' | 'in-progress' | 'queued';

/**
 * Runs `bird -p -c <path>`; throws BackendError with BIRD's `file:line:col message` if invalid
 * (the failed command, a CommandError, is its cause).
 */
export async function checkBirdConfig(path: string, runner: CommandRunner = processRunner): Promise<void> {
  const argv = ['bird', '-p', '-c', path];
  const r = await runner.run(argv, { timeoutMs: 10_000, reject: false });
  if (r.exitCode === 0) return;
  const detail = (r.stderr || r.stdout).trim().replace(/^bird: /gm, '') || `could not run bird (${r.reason ?? `exit code ${r.exitCode}`})`;
  throw new BackendError(`invalid BIRD config: ${detail}`, { cause: new CommandError({ argv, ...r }) });
}

/** Runs `birdc -s <socket> <command...>` and returns its stdout (banner included). */
export async function birdc(socket: string, command: string, runner: CommandRunner = processRunner): Promise<string> {
  const { argv, r } = await runBirdc(socket, command, runner);
  if (r.exitCode !== 0) throw new BackendError(`birdc -s ${socket} ${command}: ${replyText(r).split('\n').join(' | ')}`, { cause: new CommandError({ argv, ...r }) });
  return r.stdout;
}

/** `birdc configure`: makes BIRD reload its config file; throws unless BIRD accepted it. */
export async function configure(socket: string, runner: CommandRunner = processRunner): Promise<ConfigureOutcome> {
  const { argv, r } = await runBirdc(socket, 'configure', runner);
  return configureOutcome(replyText(r), r.exitCode === 0 ? undefined : new CommandError({ argv, ...r }));
}

/**
 * Reads the reply to `birdc configure`; throws BackendError with BIRD's words if it failed
 * (with `cause`, when given: the failed birdc command).
 */
export function configureOutcome(output: string, cause?: CommandError): ConfigureOutcome {
  for (const line of output.split('\n').map((l) => l.trim())) {
    if (line === 'Reconfigured') return 'reconfigured';
    if (line === 'Reconfiguration in progress') return 'in-progress';
    if (line === 'Reconfiguration queued' || line.startsWith('Reconfiguration already in progress')) return 'queued';
  }
  throw new BackendError(`birdc configure failed: ${withoutBanner(output).trim().split('\n').join(' | ')}`, cause ? { cause } : undefined);
}

/** `birdc show protocols all`, BGP protocols only. */
export async function bgpSessions(socket: string, runner: CommandRunner = processRunner): Promise<BgpSession[]> {
  return parseBgpSessions(await birdc(socket, 'show protocols all', runner));
}

/**
 * Parses `birdc show protocols` (or `show protocols all`: the detail lines are indented and
 * skipped). Throws BackendError if the header line is missing.
 */
export function parseProtocols(output: string): BirdProtocol[] {
  return protocolBlocks(output).map((b) => b.row);
}

/** Parses `birdc show protocols all` into the BGP sessions it lists. */
export function parseBgpSessions(output: string): BgpSession[] {
  return protocolBlocks(output)
    .filter((b) => b.row.proto === 'BGP')
    .map(({ row, details }) => {
      const field = (label: string) =>
        details
          .find((l) => l.startsWith(`${label}:`))
          ?.slice(label.length + 1)
          .trim();
      const bgpState = field('BGP state');
      const neighborAddress = field('Neighbor address');
      const neighborAs = Number(field('Neighbor AS'));
      if (!bgpState || !neighborAddress || !Number.isInteger(neighborAs)) {
        throw new BackendError(`unexpected birdc output for BGP protocol ${row.name}: ${details.slice(0, 3).join(' | ')}`);
      }
      return { name: row.name, state: row.state, bgpState, neighborAddress, neighborAs, since: row.since, info: row.info };
    });
}

// ---------------------------------------------------------------------------------------------

/** A protocol row and its indented detail lines (trimmed). */
interface ProtocolBlock {
  row: BirdProtocol;
  details: string[];
}

/**
 * A row: name, proto, table, state, since, info. `since` is one token with BIRD's default time
 * format, or `date time` with `timeformat protocol iso long`.
 */
const ROW = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\S*|\S+)(?:\s+(.*?))?\s*$/;

/** Splits `show protocols [all]` output into protocol rows with their detail lines. */
function protocolBlocks(output: string): ProtocolBlock[] {
  const lines = output.split('\n');
  const header = lines.findIndex((l) => /^Name\s+Proto\s+Table\s+State\s+Since\s+Info\s*$/.test(l));
  if (header < 0) throw new BackendError(`unexpected birdc output (no protocol table): ${withoutBanner(output).trim().split('\n')[0] ?? ''}`);
  const blocks: ProtocolBlock[] = [];
  for (const line of lines.slice(header + 1)) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      blocks.at(-1)?.details.push(line.trim());
      continue;
    }
    const m = ROW.exec(line);
    if (!m) throw new BackendError(`unexpected birdc protocol row: ${line}`);
    blocks.push({
      row: { name: m[1]!, proto: m[2]!, table: m[3]!, state: m[4]!, since: m[5]!, info: m[6] ?? '' },
      details: [],
    });
  }
  return blocks;
}

async function runBirdc(socket: string, command: string, runner: CommandRunner): Promise<{ argv: string[]; r: CommandResult }> {
  const argv = ['birdc', '-s', socket, ...command.trim().split(/\s+/)];
  return { argv, r: await runner.run(argv, { timeoutMs: 10_000, reject: false }) };
}

/** What birdc said, for error messages and configure: stdout and stderr, banner dropped. */
function replyText(r: CommandResult): string {
  const text = [withoutBanner(r.stdout), r.stderr]
    .map((s) => s.trim())
    .filter(Boolean)
    .join('\n');
  return text || (r.reason ?? `exit code ${r.exitCode ?? -1}`);
}

/** Drops birdc's `BIRD 2.0.12 ready.` line. */
function withoutBanner(output: string): string {
  return output.replace(/^BIRD [^\n]* ready\.\n?/, '');
}
