import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';
import type { CliIO } from './main.js';
import { integer, MODEL_OPTIONS, parseModelArgs, resnet34Weights, type ModelArgs, type ModelSize } from './model-args.js';
import { createExplainerPool, type ExplainerPool } from '../pool/index.js';
import { IMAGENET_CLASSES } from '../models/imagenet-classes.js';
import { readBytes } from '../runtime/io.js';
import { InvalidInputError } from '../errors.js';
import { createGradcamServer, SERVE_TASKS } from '../serve/server.js';
import type { UploadJob, UploadResult } from '../serve/tasks.js';
import { parseExplainParams } from '../serve/params.js';
import { encodePng } from '../image/encode.js';

export const SERVE_USAGE = `  gradcam serve [options]
      An HTTP explanation service: POST /explain, GET /healthz, /readyz, /metrics, and a form at /
      --port N            port (default 8080; 0 picks a free one)
      --host H            address to listen on (default 127.0.0.1)
      --workers N         worker threads, each with the model (default: cores / --threads)
      --queue N           requests that may wait for a worker (default 16); more get 503
      --timeout S         compute seconds per request (default 120; queue time not counted); then 504
      --max-body MB       largest request body (default 32); larger gets 413
      --body-timeout S    seconds for a request body to arrive (default 60); then 408
      --labels FILE       class names: a JSON array or one per line (default: the model's own)
      --quiet             no log line per request
      --weights, --model, --preprocess, --size, --offline, --max-pixels, --threads (per worker,
      default 1): as for explain`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  port: { type: 'string', default: '8080' },
  host: { type: 'string', default: '127.0.0.1' },
  workers: { type: 'string' },
  queue: { type: 'string', default: '16' },
  timeout: { type: 'string', default: '120' },
  'max-body': { type: 'string', default: '32' },
  'body-timeout': { type: 'string', default: '60' },
  labels: { type: 'string' },
  quiet: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface ServeArgs extends ModelArgs {
  readonly port: number;
  readonly host: string;
  readonly workers: number;
  readonly queue: number;
  readonly timeoutMs: number;
  readonly maxBodyBytes: number;
  readonly bodyTimeoutMs: number;
  readonly labels: string | undefined;
  readonly quiet: boolean;
}

/** A positive decimal number of `unit`s, times `scale`. */
const positive = (flag: string, value: string, unit: string, scale: number) => {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new UsageError(`--${flag} must be a number of ${unit} > 0, got '${value}'`);
  return Math.round(Number(value) * scale);
};

function parse(argv: readonly string[]): ServeArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.target !== undefined) throw new UsageError('--target is chosen per request (POST /explain?target=...)');
  // serve reads --labels itself (any model, a JSON array or one name per line), for the replies' names.
  const model = parseModelArgs({ ...v, labels: undefined });
  const threads = model.threads ?? 1;
  return {
    ...model,
    threads,
    port: integer('port', v.port, 0, 65535),
    host: v.host,
    workers: v.workers === undefined ? Math.max(1, Math.floor(availableParallelism() / threads)) : integer('workers', v.workers, 1, 64),
    queue: integer('queue', v.queue, 0),
    timeoutMs: positive('timeout', v.timeout, 'seconds', 1000),
    maxBodyBytes: positive('max-body', v['max-body'], 'megabytes', 1024 * 1024),
    bodyTimeoutMs: positive('body-timeout', v['body-timeout'], 'seconds', 1000),
    labels: v.labels,
    quiet: v.quiet,
  };
}

/** Class names: --labels, else ImageNet's for ResNet34, else a metadata.json beside the model (as the loader reads it). */
async function readLabels(args: ServeArgs): Promise<readonly string[] | undefined> {
  if (args.labels === undefined) {
    if (!args.model) return IMAGENET_CLASSES;
    const base = /^[a-z]+:/i.test(args.model) ? new URL(args.model) : pathToFileURL(args.model);
    const meta = await readBytes(new URL('metadata.json', base), 'metadata.json').then((b) => JSON.parse(new TextDecoder().decode(b)), () => undefined);
    return Array.isArray(meta?.labels) && meta.labels.every((l: unknown) => typeof l === 'string') ? meta.labels : undefined;
  }
  const text = new TextDecoder().decode(await readBytes(args.labels, 'labels'));
  let labels: unknown;
  try {
    labels = text.trimStart().startsWith('[') ? JSON.parse(text) : text.split(/\r?\n/).filter((l) => l.trim() !== '');
  } catch (cause) {
    throw new InvalidInputError(`--labels ${args.labels}: not a JSON array: ${(cause as Error).message}`);
  }
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new InvalidInputError(`--labels ${args.labels} must be a JSON array of strings or one name per line`);
  return labels;
}

/** Resolves on the first SIGTERM or SIGINT. */
const stopSignal = () =>
  new Promise<string>((resolve) => {
    const on = (signal: string) => {
      process.off('SIGTERM', on).off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on).on('SIGINT', on);
  });

export async function serveCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const args = parse(argv);
  if (args === 'help') {
    io.stdout(`${SERVE_USAGE}\n`);
    return 0;
  }
  // The weights are read once here and shared by every worker; a layers model's workers read its files.
  const weightsPath = await resnet34Weights(args, io);
  const weights = weightsPath === undefined ? undefined : await readBytes(weightsPath, 'weights');
  const pool: ExplainerPool = await createExplainerPool({
    size: args.workers,
    model: args.model ?? 'resnet34',
    weights,
    preprocess: args.preprocess,
    threads: args.threads,
    tasks: SERVE_TASKS,
  });
  try {
    const [labels, numClasses] = await Promise.all([readLabels(args), warmUp(pool, args.size)]);
    if (labels && labels.length !== numClasses) throw new InvalidInputError(`${labels.length} labels for a model with ${numClasses} classes`);
    const server = createGradcamServer({
      pool,
      model: { labels, numClasses },
      queue: args.queue,
      timeoutMs: args.timeoutMs,
      maxBodyBytes: args.maxBodyBytes,
      bodyTimeoutMs: args.bodyTimeoutMs,
      maxPixels: args.maxPixels,
      size: args.size,
      log: args.quiet ? undefined : (line) => io.stderr(`${line}\n`),
    });
    // A signal while the model loads ends the process at once (nothing was accepted yet); from here on it is graceful.
    const stopped = stopSignal();
    const address = await server.listen(args.port, args.host);
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    io.stderr(`gradcam serve: listening on http://${host}:${address.port}/ (${pool.size} worker${pool.size === 1 ? '' : 's'}, queue ${args.queue})\n`);
    const signal = await stopped;
    io.stderr(`gradcam serve: ${signal}: answering the requests already accepted, then stopping\n`);
    await server.close();
    io.stderr('gradcam serve: stopped\n');
    return 0;
  } finally {
    await pool.dispose();
  }
}

/**
 * One upload explained on each worker (a gray PNG, decoded, explained with guided backprop, its
 * overlay encoded), so that the first requests do not pay for the kernels' and codecs' first use; it
 * also tells the number of classes.
 */
async function warmUp(pool: ExplainerPool, size: ModelSize): Promise<number> {
  const side = 224;
  const png = await encodePng({ data: new Uint8Array(side * side * 3).fill(128), width: side, height: side });
  const job = (): UploadJob => ({ bytes: png.slice(), maxPixels: side * side, size, options: { guided: true }, params: parseExplainParams(new URLSearchParams()) });
  const [r] = (await Promise.all(Array.from({ length: pool.size }, () => pool.run('explainUpload', job())))) as UploadResult[];
  return r!.summary.logits.length;
}
