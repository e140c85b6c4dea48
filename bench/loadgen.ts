/**
 * The load generator: a separate process forked by run.ts for one scenario on one target.
 * It receives the job over IPC, sets up through the real API, asks the runner to sample the
 * server at each mark, and sends back its figures.
 */
import { ATTACK_SCENARIOS } from './attack-scenarios.js';
import { SCENARIOS, type Context } from './scenarios.js';
import { BaselineTarget, GoChatTarget } from './target.js';
import { isAttack, type Job, type ToLoadgen, type ToRunner } from './types.js';

function send(message: ToRunner): void {
  process.send!(message);
}

const markWaiters = new Map<string, () => void>();

process.on('message', (message: ToLoadgen) => {
  if (message.type === 'marked') markWaiters.get(message.name)?.();
  else if (message.type === 'job') void run(message.job);
});

async function run(job: Job): Promise<void> {
  const target = job.target === 'baseline' ? new BaselineTarget(job.wsUrl) : new GoChatTarget(job.baseUrl, job.wsUrl, job.runTag, job.gateways);
  const ctx: Context = {
    job,
    target,
    mark: (name) =>
      new Promise<void>((resolve) => {
        markWaiters.set(name, () => {
          markWaiters.delete(name);
          resolve();
        });
        send({ type: 'mark', name });
      }),
    log: (text) => send({ type: 'log', text }),
  };
  try {
    const scenario = job.scenario;
    const result = await (isAttack(scenario) ? ATTACK_SCENARIOS[scenario] : SCENARIOS[scenario])(ctx);
    send({ type: 'result', result });
  } catch (err) {
    send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
  // Let the IPC message flush, then leave: open sockets must not keep the process alive.
  setTimeout(() => process.exit(0), 200);
}
