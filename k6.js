// k6.js — load profile for jobcelld, scaled to what one host sustains.
//
// The seed's profile (100k tasks/s of 1–5 s tasks) would keep ~300,000 tasks
// alive at once: right for 13 KB language actors, not for kernel-isolated
// processes (~0.4 MB and ~1.5 ms of kernel work each).  jobcelld bounds the
// tasks alive at once (max_running) and the queue behind them (max_queued),
// and answers 503 with Retry-After beyond both.  The profile, for a daemon
// started with max_running 64 and max_queued 256 (bench/load.sh does that;
// 64 is the default of a 2-core host), tasks of 1–5 s (3 s mean, so the
// host drains ~21 tasks/s):
//   steady   30 s at 15 tasks/s (~45 alive): every POST must be accepted
//   burst    ramp to 150/s in 5 s, hold 10 s: the running set fills, the
//            queue fills (202 "queued"), then 503 + Retry-After — never an
//            error, a hang or a slow answer
//   recover  20 s at 5/s: accepted again at once
// Thresholds (the seed's, plus what makes them mean something):
//   http_req_duration p(95) < 500 ms, p(99) < 1000 ms
//   http_req_failed < 1 % (202 and 503 are the expected answers; a 503
//     without Retry-After fails the check below)
//   checks > 99 %: 202, or 503 with Retry-After
//   tasks accepted: > 99 % of the POSTs in steady and recover, so a daemon
//     that answers 503 to everything fails; in the burst some are shed
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 [-e TOKEN=...] k6.js
//
// k6 is not packaged by Debian: bench/load.sh runs the same profile with
// the same thresholds under wrk (bench/load.lua) and exits non-zero when one
// fails.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const accepted = new Rate('task_accepted');
const acceptedCount = new Counter('tasks_accepted');
const queued = new Counter('tasks_queued');
const shed = new Counter('tasks_shed_503');

http.setResponseCallback(http.expectedStatuses(202, 503));

export const options = {
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate', rate: 15, timeUnit: '1s', duration: '30s',
      preAllocatedVUs: 20, maxVUs: 100,
    },
    burst: {
      executor: 'ramping-arrival-rate', startTime: '30s', startRate: 15, timeUnit: '1s',
      preAllocatedVUs: 50, maxVUs: 400,
      stages: [{ target: 150, duration: '5s' }, { target: 150, duration: '10s' }],
    },
    recover: {
      executor: 'constant-arrival-rate', startTime: '45s', rate: 5, timeUnit: '1s', duration: '20s',
      preAllocatedVUs: 10, maxVUs: 50,
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'task_accepted{scenario:steady}': ['rate>0.99'],
    'task_accepted{scenario:recover}': ['rate>0.99'],
    'tasks_shed_503{scenario:burst}': ['count>0'],
  },
};

const NAMES = ['generate-report', 'process-dataset', 'send-notification', 'worker-alpha',
               'worker-beta', 'worker-gamma', 'resize-images', 'sync-inventory'];

export default function () {
  const body = JSON.stringify({
    name: NAMES[Math.floor(Math.random() * NAMES.length)],
    duration: 1 + Math.floor(Math.random() * 5),
  });
  const headers = { 'Content-Type': 'application/json' };
  if (__ENV.TOKEN) headers.Authorization = `Bearer ${__ENV.TOKEN}`;
  const res = http.post(`${BASE_URL}/api/tasks`, body, { headers });
  check(res, {
    '202, or 503 with Retry-After': (r) => r.status === 202 ||
      (r.status === 503 && r.headers['Retry-After'] !== undefined),
  });
  accepted.add(res.status === 202);
  if (res.status === 202) {
    acceptedCount.add(1);
    if (res.body && res.body.includes('"status":"queued"')) queued.add(1);
  }
  if (res.status === 503) shed.add(1);
  sleep(0.1);
}

export function handleSummary(data) {
  const m = data.metrics;
  const d = m.http_req_duration.values;
  const n = (k) => (m[k] ? m[k].values.count : 0);
  const line = `requests ${m.http_reqs.values.count}, accepted ${n('tasks_accepted')} ` +
    `(queued ${n('tasks_queued')}), shed (503) ${n('tasks_shed_503')}, ` +
    `failed ${(100 * m.http_req_failed.values.rate).toFixed(2)} %, failed checks ${m.checks.values.fails}, ` +
    `median ${d.med.toFixed(1)} ms, p95 ${d['p(95)'].toFixed(1)} ms, p99 ${d['p(99)'].toFixed(1)} ms\n`;
  return { stdout: line };
}
