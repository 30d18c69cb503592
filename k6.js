// k6.js — load profile for jobcelld, scaled to what one host sustains.
//
// The seed's profile (100k tasks/s of 1–5 s tasks) would keep ~300,000 tasks
// alive at once: right for 13 KB language actors, not for kernel-isolated
// processes (~0.4 MB and ~1.5 ms of kernel work each).  jobcelld bounds the
// tasks alive at once (max_running, default 128) and answers 503 with
// Retry-After beyond it.  So this profile ramps past that bound on purpose
// and checks that every answer is either 202 (accepted) or 503 (shed,
// honestly), never an error or a hang.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 [-e TOKEN=...] k6.js
//
// (k6 is not packaged by Debian; bench/http.sh measures the same with wrk.)
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
const accepted = new Counter('tasks_accepted');
const shed = new Counter('tasks_shed_503');

export const options = {
  scenarios: {
    ramp: {
      executor: 'ramping-arrival-rate',
      startRate: 10,
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: 400,
      stages: [
        { target: 40, duration: '20s' },   // within max_running at a 3 s mean
        { target: 100, duration: '20s' },  // past it: 503s expected
        { target: 200, duration: '30s' },  // well past it: the API must keep answering
        { target: 0, duration: '10s' },
      ],
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<500', 'p(99)<1000'],
    checks: ['rate>0.99'],               // 202 or 503 only
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
  check(res, { '202 or 503': (r) => r.status === 202 || r.status === 503 });
  if (res.status === 202) accepted.add(1);
  if (res.status === 503) shed.add(1);
  sleep(0.1);
}

export function handleSummary(data) {
  const m = data.metrics;
  const d = m.http_req_duration.values;
  const line = `requests ${m.http_reqs.values.count}, accepted ${m.tasks_accepted ? m.tasks_accepted.values.count : 0}, ` +
    `shed (503) ${m.tasks_shed_503 ? m.tasks_shed_503.values.count : 0}, ` +
    `failed checks ${m.checks.values.fails}, median ${d.med.toFixed(1)} ms, ` +
    `p95 ${d['p(95)'].toFixed(1)} ms, p99 ${(d['p(99)'] || 0).toFixed(1)} ms\n`;
  return { stdout: line };
}
