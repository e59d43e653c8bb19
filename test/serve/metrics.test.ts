import { expect, test } from 'vitest';
import { LATENCY_BUCKETS, Metrics } from '../../src/serve/metrics.js';
import { parsePrometheus } from './prometheus.js';

test('requests by route and status, and a cumulative latency histogram, in the Prometheus text format', () => {
  const m = new Metrics();
  m.observe('/explain', 200, 0.03);
  m.observe('/explain', 200, 0.7);
  m.observe('/explain', 503, 0.001);
  m.observe('/explain', 200, 500); // above the last bucket
  m.observe('/metrics', 200, 0.002);
  m.observe('other "x"\n', 404, 0.002);
  const s = parsePrometheus(m.render({ queueDepth: 3, inFlight: 2, workers: 2, workerRestarts: 1, rssBytes: 123456789, heapUsedBytes: 5e6, workerMemory: new Map([[3, { tensors: 111, tensorBytes: 2e7, heapUsedBytes: 9e6 }]]) }));
  expect(s.get('gradcam_http_requests_total{route="/explain",status="200"}')).toBe(3);
  expect(s.get('gradcam_http_requests_total{route="/explain",status="503"}')).toBe(1);
  expect(s.get('gradcam_http_requests_total{route="other \\"x\\"\\n",status="404"}')).toBe(1);
  const bucket = (le: string) => s.get(`gradcam_http_request_duration_seconds_bucket{route="/explain",le="${le}"}`);
  expect(bucket('0.01')).toBe(1);
  expect(bucket('0.05')).toBe(2);
  expect(bucket('1')).toBe(3);
  expect(bucket('120')).toBe(3);
  expect(bucket('+Inf')).toBe(4);
  for (let i = 1; i < LATENCY_BUCKETS.length; i++) expect(bucket(String(LATENCY_BUCKETS[i]))).toBeGreaterThanOrEqual(bucket(String(LATENCY_BUCKETS[i - 1]))!);
  expect(s.get('gradcam_http_request_duration_seconds_count{route="/explain"}')).toBe(4);
  expect(s.get('gradcam_http_request_duration_seconds_sum{route="/explain"}')).toBeCloseTo(500.731, 9);
  expect(s.get('gradcam_queue_depth')).toBe(3);
  expect(s.get('gradcam_requests_in_flight')).toBe(2);
  expect(s.get('gradcam_workers')).toBe(2);
  expect(s.get('gradcam_worker_restarts_total')).toBe(1);
  expect(s.get('process_resident_memory_bytes')).toBe(123456789);
  expect(s.get('gradcam_heap_used_bytes')).toBe(5e6);
  expect(s.get('gradcam_worker_tensors{worker="3"}')).toBe(111);
  expect(s.get('gradcam_worker_tensor_bytes{worker="3"}')).toBe(2e7);
  expect(s.get('gradcam_worker_heap_used_bytes{worker="3"}')).toBe(9e6);
});
