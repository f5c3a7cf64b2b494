// Sends log lines to a Loki push endpoint with the winston-loki transport
// (npm winston-loki and snappy, installed by .ci/run into .ci/loki/node_modules)
// in protobuf compressed with snappy, the body Promtail and Alloy send.
// Usage: node send.cjs URL TOKEN COUNT. Exits 1 if a push fails, 2 if the
// transport fell back to JSON (snappy missing).
const { createLogger } = require("winston");
const LokiTransport = require("winston-loki");
const [host, token, count] = process.argv.slice(2);
let failed = false;
const transport = new LokiTransport({
  host, json: false, batching: true, interval: 0.2, basicAuth: `winston:${token}`,
  labels: { job: "winston", env: "test" }, gracefulShutdown: false,
  onConnectionError: (err) => { failed = true; console.error("winston-loki:", (err && err.message) || err); },
});
if (transport.batcher.contentType !== "application/x-protobuf") {
  console.error("winston-loki: not sending protobuf (is snappy installed?)");
  process.exit(2);
}
const logger = createLogger({ transports: [transport] });
for (let i = 0; i < Number(count); i++) {
  logger.info(`loki line ${i} with "quotes" and é`, { labels: { level: i % 3 === 0 ? "warn" : "info" } });
}
(async () => {
  await transport.flush();
  transport.close();
  process.exit(failed ? 1 : 0);
})();
