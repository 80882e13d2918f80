// Starts the real Banter binary on a free loopback port with a fresh data directory, waits for
// /api/health, and stops it again (always: also on process exit).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Cheap Argon2 parameters (the server's own test settings): these tests are about the web
 * client, and on a debug build the production cost makes each sign-up take seconds.
 */
export const CHEAP_PASSWORD_HASHING = { BANTER_ARGON2_MEMORY_KIB: '64', BANTER_ARGON2_ITERATIONS: '1' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {object} [opts]
 * @param {string[]} [opts.args]  extra command-line flags, e.g. `['--sync-gap-limit', '20']`
 * @param {object} [opts.env]  extra environment, e.g. `{ BANTER_SYNC_GAP_LIMIT: '20' }`
 * @returns {Promise<{base: string, port: number, logs: () => string, stop: () => Promise<void>}>}
 */
export async function startServer({ timeoutMs = 30000, args = [], env = {} } = {}) {
  const bin = process.env.BANTER_BIN || path.join(repoRoot, 'target', 'debug', 'banter');
  if (!fs.existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}: run \`cargo build -p banter-server\` or set BANTER_BIN`);
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'banter-e2e-'));
  const child = spawn(bin, ['--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, ...args], {
    env: { ...process.env, BANTER_LOG: process.env.BANTER_LOG || 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const keep = (chunk) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve();
  }));
  const killNow = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killNow);

  const base = `http://127.0.0.1:${port}`;
  const logs = () => lines.join('\n');
  const stop = async () => {
    process.off('exit', killNow);
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([exitPromise, sleep(5000)]);
      if (!exited) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`server exited early (${JSON.stringify(exited)}):\n${logs()}`);
    }
    try {
      const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server did not answer /api/health within ${timeoutMs} ms:\n${logs()}`);
    }
    await sleep(100);
  }
  return { base, port, logs, stop };
}
