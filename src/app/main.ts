/** `npm start`: reads config from the environment, starts the configured role, stops cleanly on SIGTERM/SIGINT. */
import { ConfigError, loadConfig, type Config } from '../config/index.js';
import { runConfigCommand } from '../config/command.js';
import { createLogger } from './logger.js';
import { startGoChat } from './gochat.js';

// `main.js config` prints the effective configuration and exits: it never starts the server.
if (process.argv[2] === 'config') process.exit(await runConfigCommand(process.argv.slice(3)));

/** The configuration, or the process ends naming every bad variable (no stack trace: nothing crashed). */
function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const log = createLogger(config.log.level, config.role);

// Every entry point a client reaches turns its failures into an answer or a close; should one
// still slip through, it is logged, and one bad request does not stop the server for everyone.
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

try {
  const running = await startGoChat(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  log.fatal({ err }, 'failed to start');
  process.exit(1);
}
