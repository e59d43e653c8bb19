// Why: a pool worker's V8 heap is small (~17 MB live) while each explanation moves megabytes of
// ArrayBuffers through it, and V8 then runs a full mark-compact every few requests (its concurrent
// marking on the platform's threads cost ~2-4 ms of CPU per MobileNet request, measured). V8 never
// lets an isolate's old-generation limit fall below its initial size, so giving the workers' isolates
// an initial size of a few tens of MB makes those collections rare.
//
// Node has no per-worker option for it (Worker's resourceLimits set maxima only), so the pool sets
// V8's --initial-old-space-size, which V8 reads once, when an isolate is created, while it creates
// its workers, and puts the process's own value back when none is starting.

let starting = 0;

/** The process's own --initial-old-space-size (from its command line), 0 when it has none. */
const processValue = (): number => {
  const arg = process.execArgv.filter((a) => /^--initial[-_]old[-_]space[-_]size=/.test(a)).at(-1);
  return arg === undefined ? 0 : Number(arg.split('=')[1]) || 0;
};

/**
 * Runs `start` (which creates a worker thread and resolves once it runs) with new isolates given an
 * initial old-generation size of `mb` MB; 0 leaves V8's default.
 */
export async function withWorkerHeapFloor<T>(mb: number, start: () => Promise<T>): Promise<T> {
  if (mb <= 0) return start();
  // Loaded here, not at the top: the package's index (browsers, Deno, edge) imports the pool's module.
  const { setFlagsFromString } = await import('node:v8');
  starting++;
  setFlagsFromString(`--initial-old-space-size=${Math.max(mb, processValue())}`);
  try {
    return await start();
  } finally {
    if (--starting === 0) setFlagsFromString(`--initial-old-space-size=${processValue()}`);
  }
}
