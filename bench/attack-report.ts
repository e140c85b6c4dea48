/**
 * The attack scenarios' tables and bars: the same run's quiet window against its attack window,
 * then one line per attack in a closing summary.
 */
import { fmt } from './stats.js';
import type { AttackId, RunFigures, Verdict } from './types.js';

/** The bar every attack scenario shares: a normal user's ack p99 under attack within 2x of quiet. */
export const ACK_P99_RATIO_BAR = 2;
/** slow-bodies: share of /healthz probes answered 200 during the attack. */
const HEALTHZ_OK_BAR = 0.99;

export interface AttackRow {
  metric: string;
  quiet?: number;
  attack?: number;
  /** attack / quiet, when both exist (for the ack p99: the median of the runs' own ratios). */
  ratio?: number;
  bar?: string;
  pass?: boolean;
}

export interface AttackSummary {
  scenario: AttackId;
  quietP99Ms?: number;
  attackP99Ms?: number;
  ratio?: number;
  ackBarHolds: boolean;
  refusals?: number;
  /** The scenario's other bars, e.g. `1/2`. */
  otherBars: string;
  /** The one figure particular to the attack (bytes stored, list size, /healthz answers). */
  note: string;
}

export function attackRows(scenario: AttackId, f: RunFigures | undefined): { rows: AttackRow[]; verdicts: Verdict[] } {
  const rows: AttackRow[] = [];
  const verdicts: Verdict[] = [];
  if (!f) return { rows, verdicts };
  const row = (metric: string, quiet: number | undefined, attack: number | undefined, extra: Partial<AttackRow> = {}) => {
    const r: AttackRow = { metric };
    if (isFigure(quiet)) r.quiet = quiet;
    if (isFigure(attack)) r.attack = attack;
    if (extra.ratio === undefined && r.quiet !== undefined && r.attack !== undefined && r.quiet !== 0) r.ratio = r.attack / r.quiet;
    Object.assign(r, extra);
    if (r.bar !== undefined) verdicts.push({ bar: `${scenario}: ${metric} ${r.bar}`, pass: r.pass === true });
    if (r.quiet !== undefined || r.attack !== undefined) rows.push(r);
  };
  const bar = (text: string, pass: boolean | undefined) => ({ bar: text, pass: pass === true });

  row('normal send->ack p50 ms', f.quietAckMs?.p50, f.attackAckMs?.p50);
  row('normal send->ack p99 ms', f.quietAckMs?.p99, f.attackAckMs?.p99, {
    ...(isFigure(f.ackP99Ratio) ? { ratio: f.ackP99Ratio } : {}),
    ...bar(`<= ${ACK_P99_RATIO_BAR.toFixed(1)}x`, isFigure(f.ackP99Ratio) && f.ackP99Ratio <= ACK_P99_RATIO_BAR),
  });
  row('normal send->ack max ms', f.quietAckMs?.max, f.attackAckMs?.max);
  row('server CPU, % of a core', pct(f.serverCoreQuiet), pct(f.serverCoreAttack));
  row('normal sends refused (worst)', undefined, f.errors, bar('= 0', f.errors === 0));
  row('normal sends lost (worst)', undefined, (f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0), bar('= 0', (f.lostUnacked ?? 0) + (f.lostUndelivered ?? 0) === 0));

  const p = f.probe;
  if (p) {
    const loginBar = scenario === 'register-flood' ? bar(`<= ${ACK_P99_RATIO_BAR.toFixed(1)}x`, isFigure(p.p99Ratio) && p.p99Ratio <= ACK_P99_RATIO_BAR) : {};
    row(`${p.name} p50 ms`, p.quiet.latencyMs.p50, p.attack.latencyMs.p50);
    row(`${p.name} p99 ms`, p.quiet.latencyMs.p99, p.attack.latencyMs.p99, { ...(isFigure(p.p99Ratio) ? { ratio: p.p99Ratio } : {}), ...loginBar });
    row(`${p.name} answered`, p.quiet.ok, p.attack.ok);
    row(`${p.name} failed`, p.quiet.failed, p.attack.failed, scenario === 'register-flood' ? bar('= 0', p.attack.failed === 0) : {});
    row(`${p.name} ok %`, okShare(p.quiet) * 100, okShare(p.attack) * 100, scenario === 'slow-bodies' ? bar(`>= ${HEALTHZ_OK_BAR * 100}%`, okShare(p.attack) >= HEALTHZ_OK_BAR) : {});
  }

  const a = f.attacker;
  if (a) {
    row('attacker attempts', undefined, a.attempts);
    row('attacker served', undefined, a.accepted);
    row('attacker served /s', undefined, a.acceptedPerSec);
    row('attacker refusals', undefined, a.refusals);
    row('attacker failures', undefined, a.failures);
    for (const [kind, count] of Object.entries(a.outcomes)) row(`  ${kind}`, undefined, count);
    if (a.bytesAcceptedPerSec !== undefined) row('attacker bytes acked MB/s', undefined, a.bytesAcceptedPerSec / 1e6);
  }
  if (scenario === 'disk-fill' && f.dataDirBytesPerSec !== undefined) row('data dir growth MB/s', undefined, f.dataDirBytesPerSec / 1e6);
  if (f.conversationsAtEnd) {
    row('victim conversations at end', undefined, f.conversationsAtEnd.entries);
    row('victim list KB at end', undefined, f.conversationsAtEnd.bytes / 1024);
    row('victim list ms at end', undefined, f.conversationsAtEnd.ms);
  }
  return { rows, verdicts };
}

/** A finite number: a window without samples has NaN figures, which cross IPC as null. */
function isFigure(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function pct(share: number | undefined): number | undefined {
  return share === undefined ? undefined : share * 100;
}

function okShare(w: { ok: number; failed: number }): number {
  return w.ok + w.failed === 0 ? 0 : w.ok / (w.ok + w.failed);
}

export function printAttackTable(title: string, rows: readonly AttackRow[], runs: number): void {
  console.log(`\n${title}  [median of ${runs} run${runs > 1 ? 's' : ''}; worst run where marked]`);
  console.log(`  ${'metric'.padEnd(36)}${'quiet'.padStart(10)}${'attack'.padStart(10)}${'ratio'.padStart(9)}   bar`);
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`;
    const bar = r.bar ? `${r.bar.padEnd(10)} ${r.pass ? 'PASS' : 'MISS'}` : '';
    console.log(`  ${r.metric.padEnd(36)}${fmt(r.quiet).padStart(10)}${fmt(r.attack).padStart(10)}${ratio.padStart(9)}   ${bar}`);
  }
}

export function attackSummaryLine(scenario: AttackId, f: RunFigures | undefined, verdicts: readonly Verdict[], failedRuns: number): AttackSummary {
  const [ack, ...others] = verdicts;
  const note = (): string => {
    if (!f) return `${failedRuns} run(s) failed`;
    if (scenario === 'slow-bodies' && f.probe) return `/healthz ${f.probe.attack.ok}/${f.probe.attack.ok + f.probe.attack.failed} ok under attack`;
    if (scenario === 'register-flood' && f.probe) return `login p99 ${fmt(f.probe.quiet.latencyMs.p99)} -> ${fmt(f.probe.attack.latencyMs.p99)} ms`;
    if (scenario === 'disk-fill') return `attacker stored ${fmt((f.attacker?.bytesAcceptedPerSec ?? 0) / 1e6, 1)} MB/s`;
    if (scenario === 'group-spam' && f.conversationsAtEnd) return `victim list ${f.conversationsAtEnd.entries} entries, ${fmt(f.conversationsAtEnd.bytes / 1024)} KB`;
    return `attacker served ${fmt(f.attacker?.acceptedPerSec)} /s`;
  };
  const summary: AttackSummary = {
    scenario,
    ackBarHolds: ack?.pass === true && failedRuns === 0,
    otherBars: `${others.filter((v) => v.pass).length}/${others.length}`,
    note: note(),
  };
  if (f?.quietAckMs) summary.quietP99Ms = f.quietAckMs.p99;
  if (f?.attackAckMs) summary.attackP99Ms = f.attackAckMs.p99;
  if (isFigure(f?.ackP99Ratio)) summary.ratio = f.ackP99Ratio;
  if (f?.attacker) summary.refusals = f.attacker.refusals;
  return summary;
}

export function printAttackSummary(lines: readonly AttackSummary[]): void {
  console.log('\nattacks: a normal user\'s send->ack p99, quiet window vs attack window of the same run');
  console.log(
    `  ${'scenario'.padEnd(16)}${'quiet p99'.padStart(11)}${'attack p99'.padStart(12)}${'ratio'.padStart(9)}  ${'bar'.padEnd(8)}${'ack'.padEnd(6)}${'refusals'.padStart(10)}  ${'other bars'.padEnd(11)} note`,
  );
  for (const l of lines) {
    const ratio = l.ratio === undefined ? '-' : `${l.ratio.toFixed(2)}x`;
    console.log(
      `  ${l.scenario.padEnd(16)}${fmt(l.quietP99Ms).padStart(11)}${fmt(l.attackP99Ms).padStart(12)}${ratio.padStart(9)}  ${`<= ${ACK_P99_RATIO_BAR.toFixed(1)}x`.padEnd(8)}${(l.ackBarHolds ? 'PASS' : 'MISS').padEnd(6)}${fmt(l.refusals).padStart(10)}  ${l.otherBars.padEnd(11)} ${l.note}`,
    );
  }
}
