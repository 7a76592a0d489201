// Send calls to Regal through Segment's Node SDK, as a Node backend would.
//
//   node send.mjs HOST WRITE_KEY '[{"type": "track", "userId": "u-1", ...}]'
//
// Each call is an object whose `type` names the SDK method (identify, track,
// page, screen, group, alias) and whose other keys are that method's params.
// MAX_EVENTS_IN_BATCH (default 15, the SDK's own) sets how many calls go in
// one request. Exits 0 only when every call was delivered; prints each
// failure and exits 1 otherwise, or 2 on bad arguments.
import { Analytics } from "@segment/analytics-node";

const FLUSH_TIMEOUT_MS = 15000;
const METHODS = new Set(["identify", "track", "page", "screen", "group", "alias"]);

function usage(message) {
  console.error(`send.mjs: ${message}`);
  console.error("usage: node send.mjs HOST WRITE_KEY CALLS_JSON");
  process.exit(2);
}

const [host, writeKey, callsJson] = process.argv.slice(2);
if (!host || !writeKey || !callsJson) usage("missing arguments");
let calls;
try {
  calls = JSON.parse(callsJson);
} catch (error) {
  usage(`CALLS_JSON is not JSON: ${error.message}`);
}
if (!Array.isArray(calls)) usage("CALLS_JSON must be a list");

const analytics = new Analytics({
  writeKey,
  host,
  maxEventsInBatch: Number(process.env.MAX_EVENTS_IN_BATCH || 15),
  // No retries: a test wants the first answer, not a minute of backoff.
  maxRetries: 0,
  httpRequestTimeout: 5000,
});

const failures = [];
let delivered = 0;
analytics.on("error", (error) => {
  failures.push(`${error.code}: ${error.reason?.message ?? error.reason}`);
});

for (const [index, call] of calls.entries()) {
  const { type, ...params } = call;
  if (!METHODS.has(type)) usage(`call ${index} has no known type: ${type}`);
  analytics[type](params, (error) => {
    if (error) failures.push(`call ${index} (${type}): ${error.message ?? error}`);
    else delivered += 1;
  });
}

// closeAndFlush gives up quietly at its timeout: count what was delivered.
await analytics.closeAndFlush({ timeout: FLUSH_TIMEOUT_MS });
if (delivered !== calls.length) {
  failures.push(`${delivered} of ${calls.length} calls delivered`);
}
for (const failure of new Set(failures)) console.error(failure);
process.exit(failures.length ? 1 : 0);
