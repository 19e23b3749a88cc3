// A worker of a Node-cluster deployment: Socket.IO with @socket.io/cluster-adapter,
// which relies on the primary's setupPrimary() to reach PostgreSQL.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/cluster-adapter";

const http = createServer();
const io = new Server(http, { adapter: createAdapter() });
io.on("connection", (socket) => socket.join(socket.handshake.auth.rooms ?? []));
http.listen(0, "127.0.0.1", () => process.send({ ready: http.address().port }));
