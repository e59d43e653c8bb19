/** Latency buckets in seconds: a MobileNet explanation takes tens of ms, a ResNet34 seed figure about a second. */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

/** Values read when /metrics is scraped. */
export interface Gauges {
  readonly queueDepth: number;
  readonly inFlight: number;
  readonly workers: number;
  readonly workerRestarts: number;
  readonly rssBytes: number;
  /** The server thread's V8 heap in use. */
  readonly heapUsedBytes: number;
  /** Per worker thread (by thread id), as it reported after its last request. */
  readonly workerMemory: ReadonlyMap<number, WorkerMemory>;
}

/** A worker's memory after a request: its tensors (tf.memory()) and its own V8 heap in use. */
export interface WorkerMemory {
  readonly tensors: number;
  readonly tensorBytes: number;
  readonly heapUsedBytes: number;
}

interface Histogram {
  readonly counts: number[]; // per bucket, not cumulative; the last one is +Inf
  sum: number;
  count: number;
}

/** Requests by route and status, and a latency histogram per route, in the Prometheus text format. */
export class Metrics {
  private readonly requests = new Map<string, number>(); // key: route \0 status
  private readonly latency = new Map<string, Histogram>();

  observe(route: string, status: number, seconds: number): void {
    const key = `${route}\0${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    let h = this.latency.get(route);
    if (!h) this.latency.set(route, (h = { counts: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    const bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    h.counts[bucket < 0 ? LATENCY_BUCKETS.length : bucket]!++;
    h.sum += seconds;
    h.count++;
  }

  render(g: Gauges): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    family('gradcam_http_requests_total', 'counter', 'HTTP requests answered, by route and status code.');
    for (const [key, n] of [...this.requests].sort()) {
      const [route, status] = key.split('\0');
      out.push(`gradcam_http_requests_total{route=${label(route!)},status="${status}"} ${n}`);
    }
    family('gradcam_http_request_duration_seconds', 'histogram', 'Time from the request to the end of its response, by route.');
    for (const [route, h] of [...this.latency].sort(([a], [b]) => a.localeCompare(b))) {
      let cumulative = 0;
      for (const [i, le] of [...LATENCY_BUCKETS, '+Inf' as const].entries()) {
        cumulative += h.counts[i]!;
        out.push(`gradcam_http_request_duration_seconds_bucket{route=${label(route)},le="${le}"} ${cumulative}`);
      }
      out.push(`gradcam_http_request_duration_seconds_sum{route=${label(route)}} ${h.sum}`);
      out.push(`gradcam_http_request_duration_seconds_count{route=${label(route)}} ${h.count}`);
    }
    family('gradcam_queue_depth', 'gauge', 'Explanation requests waiting for a worker.');
    out.push(`gradcam_queue_depth ${g.queueDepth}`);
    family('gradcam_requests_in_flight', 'gauge', 'Explanation requests being computed by a worker.');
    out.push(`gradcam_requests_in_flight ${g.inFlight}`);
    family('gradcam_workers', 'gauge', 'Worker threads in the pool.');
    out.push(`gradcam_workers ${g.workers}`);
    family('gradcam_worker_restarts_total', 'counter', 'Workers replaced after they died or were stopped by a timeout.');
    out.push(`gradcam_worker_restarts_total ${g.workerRestarts}`);
    family('process_resident_memory_bytes', 'gauge', 'Resident set size of the server process (workers included).');
    out.push(`process_resident_memory_bytes ${g.rssBytes}`);
    family('gradcam_heap_used_bytes', 'gauge', "V8 heap in use by the server's own thread.");
    out.push(`gradcam_heap_used_bytes ${g.heapUsedBytes}`);
    const workers = [...g.workerMemory].sort(([a], [b]) => a - b);
    const perWorker = (name: string, help: string, value: (m: WorkerMemory) => number) => {
      family(name, 'gauge', help);
      for (const [id, m] of workers) out.push(`${name}{worker="${id}"} ${value(m)}`);
    };
    perWorker('gradcam_worker_tensors', 'Tensors a worker holds after its last request (its model; flat unless it leaks).', (m) => m.tensors);
    perWorker('gradcam_worker_tensor_bytes', 'Bytes of the tensors a worker holds after its last request.', (m) => m.tensorBytes);
    perWorker('gradcam_worker_heap_used_bytes', "V8 heap in use by a worker thread after its last request.", (m) => m.heapUsedBytes);
    return `${out.join('\n')}\n`;
  }
}

/** A label value, quoted and escaped as the text format wants. */
const label = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`;
