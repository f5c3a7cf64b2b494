// Sends events to a HEC endpoint with Splunk's own Node.js logging library
// (npm splunk-logging, installed by .ci/run into .ci/hec/node_modules).
// Usage: node send.cjs URL TOKEN COUNT. Exits 1 if any send fails.
const SplunkLogger = require("splunk-logging").Logger;
const [url, token, count] = process.argv.slice(2);
const logger = new SplunkLogger({ token, url, maxBatchCount: 1, maxRetries: 2 });
let failed = false;
logger.error = (err, context) => { failed = true; console.error("splunk-logging:", err.message || err); };
let pending = Number(count);
for (let i = 0; i < Number(count); i++) {
  const payload = {
    message: { i, msg: `hec event ${i} é`, nested: { ok: i % 2 === 0 } },
    severity: i % 3 === 0 ? "warn" : "info",
    metadata: { host: "web-7", source: "checkout", sourcetype: "_json", index: "main" },
  };
  logger.send(payload, (err, resp, body) => {
    if (err || resp.statusCode !== 200) {
      failed = true;
      console.error("send", i, err ? err.message : resp.statusCode, JSON.stringify(body));
    }
    if (--pending === 0) process.exit(failed ? 1 : 0);
  });
}
