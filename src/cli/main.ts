#!/usr/bin/env node
/*
 * The `forestall` command. Kept free of top-level await so the same file builds to CommonJS too.
 */
import { redactString } from '../internal/redact.js';
import { UsageError } from './args.js';
import { commandSecrets } from './command-secrets.js';
import { batchCommand } from './batch-command.js';
import { demoCommand } from './demo.js';
import { packageVersion } from './version.js';

/** `forestall --help`. */
const MAIN_HELP = `Usage: forestall <command> [options]

Commands:
  batch <requests.jsonl> --out <results.jsonl>
        Send an OpenAI Batch API input file through the provider's regular API, inside its rate
        limits, with retries, a progress bar and resume (run it again to continue).
  demo  Send the same requests to a local mock OpenAI server twice: all at once with the SDK's
        retries, then through forestall; compare 429s, retries and time. No API key, no network.

Run "forestall <command> --help" for a command's options; "forestall --version" for the version.
`;

const COMMANDS: Readonly<Record<string, (args: readonly string[]) => Promise<number>>> = {
  batch: batchCommand,
  demo: demoCommand,
};

/** Runs the command line `argv` (without `node` and the script); resolves to the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '-v' || command === '--version' || command === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(MAIN_HELP);
    return 0;
  }
  if (command === undefined) {
    process.stderr.write(MAIN_HELP);
    return 2;
  }
  const run = COMMANDS[command];
  try {
    if (run === undefined)
      throw new UsageError(
        `: unknown command ${JSON.stringify(command)}; expected one of ${Object.keys(COMMANDS).join(', ')}`,
      );
    return await run(rest);
  } catch (error) {
    const secrets = commandSecrets(argv, process.env);
    if (error instanceof UsageError) {
      const where = run === undefined ? '' : ` ${command}`;
      const said = redactString(error.message, secrets);
      process.stderr.write(
        `forestall${said.startsWith(':') ? '' : ' '}${said}\nRun "forestall${where} --help" for usage.\n`,
      );
      return 2;
    }
    // A stack helps with a bug; a user with a full disk needs only the message.
    const message =
      error instanceof Error
        ? process.env.FORESTALL_DEBUG
          ? (error.stack ?? error.message)
          : error.message
        : String(error);
    process.stderr.write(`forestall: ${redactString(message, secrets)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
