import { GradcamError } from '../errors.js';
import { UsageError } from './errors.js';
import { explainCommand, EXPLAIN_USAGE } from './explain.js';
import { evaluateCommand, EVALUATE_USAGE } from './evaluate.js';
import { serveCommand, SERVE_USAGE } from './serve.js';
import { didYouMean } from '../suggest.js';

const COMMANDS = ['explain', 'evaluate', 'serve', 'help'];

const USAGE = `gradcam: Grad-CAM and Guided Grad-CAM on the CPU (TensorFlow.js wasm)

Commands:
${EXPLAIN_USAGE}
${SERVE_USAGE}

${EVALUATE_USAGE}

Run 'gradcam explain --help', 'gradcam evaluate --help' or 'gradcam serve --help' for the options.`;

export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars) or not (plain lines). */
  readonly isTTY?: boolean;
}

const defaultIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
};

/** Runs the CLI and returns its exit code: 0 ok, 1 failure, 2 usage error. */
export async function main(argv: readonly string[], io: CliIO = defaultIO): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      // Not asked for: usage goes to stderr (stdout may be a pipe expecting results), exit 2.
      io.stderr(`${USAGE}\n`);
      return 2;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    if (command === 'explain') return await explainCommand(rest, io);
    if (command === 'evaluate') return await evaluateCommand(rest, io);
    if (command === 'serve') return await serveCommand(rest, io);
    throw new UsageError(`unknown command '${command}'${didYouMean(command, COMMANDS)}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`gradcam: ${err.message}\nRun 'gradcam --help' for usage.\n`);
      return 2;
    }
    const message = err instanceof GradcamError ? `${err.message} [${err.code}]` : (err as Error)?.message ?? String(err);
    io.stderr(`gradcam: error: ${message}\n`);
    if (verbose && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
