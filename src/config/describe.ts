/**
 * The settings as text: the effective configuration (what `main.js config` prints) and the env
 * tables of docs/deploy.md. Both are generated from the declarations, so they cannot drift.
 */
import type { Resolved } from './index.js';
import type { Section, Setting } from './setting.js';

export interface EffectiveRow {
  variable: string;
  /** Secrets masked. */
  value: string;
  /** `env`, `env (ALIAS)` when read from an older name, or `default`. */
  source: string;
}

export function effectiveRows(resolved: readonly Resolved[]): EffectiveRow[] {
  return resolved.map(({ setting, value, source }) => ({
    variable: setting.env,
    value: setting.show(value),
    source: source.kind === 'default' ? 'default' : source.name === setting.env ? 'env' : `env (${source.name})`,
  }));
}

/** Aligned columns, one variable a line; an empty value shows as "" so the columns stay readable. */
export function formatEffective(rows: readonly EffectiveRow[]): string {
  const shown = rows.map((r) => ({ ...r, value: r.value === '' ? '""' : r.value }));
  const nameWidth = Math.max(...shown.map((r) => r.variable.length));
  const valueWidth = Math.min(60, Math.max(...shown.map((r) => r.value.length)));
  return shown.map((r) => `${r.variable.padEnd(nameWidth)}  ${r.value.padEnd(valueWidth)}  ${r.source}`).join('\n') + '\n';
}

const SECTION_TITLES: Record<Section, string> = {
  wiring: 'Role and wiring',
  gateway: 'Gateway',
  logic: 'Logic',
  task: 'Task',
};

/** The generated block of docs/deploy.md lies between these lines. */
export const DOC_BEGIN = '<!-- config:begin -->';
export const DOC_END = '<!-- config:end -->';

/** A value as a markdown code span; backticks inside a doc string are already markdown. */
function code(value: string): string {
  return `\`${value}\``;
}

function defaultCell(setting: Setting<unknown>): string {
  if (setting.defaultDoc !== undefined) return setting.defaultDoc;
  const shown = setting.show(setting.fallback);
  return shown === '' ? 'empty' : code(shown);
}

function meaningCell(setting: Setting<unknown>): string {
  const parts = [setting.doc];
  if (setting.zero) parts.push(`\`0\`: ${setting.zero}`);
  if (setting.aliases.length > 0) parts.push(`Read from ${setting.aliases.map(code).join(', ')} when this is unset`);
  if (setting.secret) parts.push('Secret: masked by `config`');
  // A pipe would end the table cell.
  return parts.join('. ').replaceAll('|', '\\|');
}

/** The env tables, one per section, in declaration order within each. */
export function renderEnvTables(settings: readonly Setting<unknown>[]): string {
  const out: string[] = [];
  for (const section of Object.keys(SECTION_TITLES) as Section[]) {
    const rows = settings.filter((s) => s.section === section);
    if (rows.length === 0) continue;
    out.push(`### ${SECTION_TITLES[section]}`, '', '| variable | default | accepted | meaning |', '|---|---|---|---|');
    for (const s of rows) out.push(`| ${code(s.env)} | ${defaultCell(s)} | ${s.accepts} | ${meaningCell(s)} |`);
    out.push('');
  }
  return out.join('\n');
}

/** `doc` with the text between the markers replaced by the generated tables. */
export function withEnvTables(doc: string, settings: readonly Setting<unknown>[]): string {
  const begin = doc.indexOf(DOC_BEGIN);
  const end = doc.indexOf(DOC_END);
  if (begin < 0 || end < begin) throw new Error(`the document has no ${DOC_BEGIN} … ${DOC_END} block`);
  return `${doc.slice(0, begin + DOC_BEGIN.length)}\n\n${renderEnvTables(settings)}\n${doc.slice(end)}`;
}
