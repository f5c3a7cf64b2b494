// Sends events with the Fluent organisation's Node.js logger (npm
// fluent-logger, installed by .ci/run into .ci/fluent/node_modules), with
// the shared-key handshake and requireAckResponse: each emit's callback
// runs once the receiver acknowledged its chunk.
// Usage: node send.cjs HOST PORT SHARED_KEY COUNT MODE [CA_FILE]
//   MODE: Message, PackedForward or CompressedPackedForward; with CA_FILE,
//   TLS checked against it. Exits 1 if any emit fails.
const fs = require("fs");
const fluent = require("fluent-logger");
const [host, port, sharedKey, count, mode, caFile] = process.argv.slice(2);
const opts = {
  host, port: Number(port), timeout: 5.0, reconnectInterval: 600000,
  requireAckResponse: true, ackResponseTimeout: 10000, eventMode: mode,
  security: { clientHostname: "fluent-client.test", sharedKey },
  internalLogger: { info() {}, error(...a) { console.error(...a); } },
};
if (caFile) {
  opts.tls = true;
  opts.tlsOptions = { ca: fs.readFileSync(caFile), servername: "localhost" };
}
const logger = fluent.createFluentSender("node", opts);
let failed = false;
// A failed handshake is reported here, and the logger would reconnect and
// try again forever: exit at once.
logger.on("error", (err) => { console.error("fluent-logger:", err.message || err); process.exit(1); });
setTimeout(() => { console.error("timed out with", pending, "events unacknowledged"); process.exit(2); }, 60000).unref();
let pending = Number(count);
for (let i = 0; i < Number(count); i++) {
  const t = new fluent.EventTime(1793700000 + Math.floor(i / 10), (i % 10) * 100000000 + 7);
  logger.emit("app", { i, msg: `node event ${i} é "q"`, nested: { mode, even: i % 2 === 0 } }, t, (err) => {
    if (err) {
      failed = true;
      console.error("emit", i, err.message || err);
    }
    if (--pending === 0) {
      logger.end();
      process.exit(failed ? 1 : 0);
    }
  });
}
