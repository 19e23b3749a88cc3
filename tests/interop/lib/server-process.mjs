// A Socket.IO server with @socket.io/postgres-adapter 0.5.0 in its own
// process, for tests that kill it (SIGKILL: no ADAPTER_CLOSE). Argument: the
// channel prefix. Prints its namespace adapter's uid once listening; its
// "wait" listener never answers. The servers already listening know it at
// once: it announced itself (INITIAL_HEARTBEAT) as its adapter was set.
import { createAdapter } from "@socket.io/postgres-adapter";
import { startServer } from "./cluster.mjs";

const server = await startServer({ createAdapter, channelPrefix: process.argv[2] });
server.io.of("/").on("wait", () => {});
console.log(server.io.of("/").adapter.uid);
