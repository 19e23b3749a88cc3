// The Rust programs the interop tests judge, built by scripts/test.sh:
// tests' `emit_lines` and `peer_lines` (the Rust Emitter and Peer driven by JSON
// lines) and the client's `socketioxide_bridge` example.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DATABASE_URL } from "./cluster.mjs";

const target = process.env.CARGO_TARGET_DIR ?? fileURLToPath(new URL("../../../target", import.meta.url));
export const EMIT_LINES = `${target}/debug/emit_lines`;
export const PEER_LINES = `${target}/debug/peer_lines`;
export const BRIDGE = `${target}/debug/examples/socketioxide_bridge`;

/** Starts `bin` with `args`; its stdout lines are kept and can be awaited. */
export function startProgram(bin, args = []) {
  const child = spawn(bin, args, { env: { ...process.env, DATABASE_URL }, stdio: ["pipe", "pipe", "inherit"] });
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(line);
    for (const w of [...waiters]) w();
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    lines,
    /** The first line from index `from` on that matches `pattern`. */
    waitFor(pattern, from = 0, ms = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines.slice(from).find((l) => pattern.test(l));
          if (line === undefined) return false;
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(line);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(new Error(`${bin}: no line matching ${pattern} within ${ms} ms; got ${JSON.stringify(lines)}`));
        }, ms);
        waiters.push(check);
        check();
      });
    },
    /** Writes one JSON line and resolves with the program's answer line. */
    async send(message) {
      const from = lines.length;
      child.stdin.write(JSON.stringify(message) + "\n");
      return this.waitFor(/.*/, from);
    },
    async stop() {
      child.kill();
      await exited;
    },
    async kill(signal) {
      child.kill(signal);
      await exited;
    },
  };
}
