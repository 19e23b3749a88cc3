// For tests/tests/durable.rs: a socket.io-client in room "r" of the server at
// 127.0.0.1:<port>; prints "connected", then each event it receives as a
// JSON line, and exits after <count> events.
import { io } from "socket.io-client";

const [port, count] = process.argv.slice(2).map(Number);
const socket = io(`http://127.0.0.1:${port}/`, { auth: { rooms: ["r"] }, transports: ["websocket"] });
let received = 0;
socket.on("connect", () => console.log("connected"));
socket.onAny((event, ...args) => {
  console.log(JSON.stringify([event, ...args]));
  if (++received === count) process.exit(0);
});
