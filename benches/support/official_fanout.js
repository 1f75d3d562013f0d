// Scenario 2 (fan-out) driven by the official socket.io-client 4.x instead of the lean Rust
// client: the conditions the stand-in figures were measured under. Started by
// benches/socketio.rs (`-- fanout-official`), which measures the server's CPU.
//
// argv: <base url> <room id> <tokens file: JSON array, the first also sends> <seconds>
// stdin: one line "go" once the server has settled. stdout: "connected", then one JSON result.
const { io } = require("socket.io-client");
const fs = require("fs");
const readline = require("readline");

const [url, roomArg, tokensFile, secsArg] = process.argv.slice(2);
const room = Number(roomArg);
const secs = Number(secsArg);
const tokens = JSON.parse(fs.readFileSync(tokensFile, "utf8"));
const origin = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - origin);
const latencies = [];

function connect(token) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], auth: { token }, reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (e) => reject(new Error("refused: " + e.message)));
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function main() {
  const receivers = [];
  for (const token of tokens) {
    const socket = await connect(token);
    socket.on("chat_response", (message) => {
      latencies.push(now() - Number(message.content.slice(1)));
    });
    receivers.push(socket);
  }
  const sender = await connect(tokens[0]);
  console.log("connected");
  const lines = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once("line", resolve));
  const cpuBefore = process.cpuUsage();
  const started = now();
  let sent = 0;
  let failed = 0;
  const tick = setInterval(() => {
    sent += 1;
    sender.emit("chat_message", { room_id: room, content: "t" + now() }, (ack) => {
      if (!ack || !ack.ok) failed += 1;
    });
  }, 10);
  await new Promise((resolve) => setTimeout(resolve, secs * 1000));
  clearInterval(tick);
  const window = (now() - started) / 1e9;
  await new Promise((resolve) => setTimeout(resolve, 300));
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  console.log(JSON.stringify({
    sent,
    failed,
    deliveries: latencies.length,
    window_s: window,
    p50_ms: percentile(latencies, 0.5) / 1e6,
    p99_ms: percentile(latencies, 0.99) / 1e6,
    cpu_s: (cpu.user + cpu.system) / 1e6,
  }));
  lines.close();
  for (const socket of [...receivers, sender]) socket.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
