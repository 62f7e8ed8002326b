// Test harness for the client tests (tests/clients, tests/browser/client_*, console_*):
// starts the real notifyd (NOTIFYD_BIN) on ephemeral loopback ports with a temp
// data dir, mints HS256 tokens, calls REST, and provides a TCP proxy (to cut a
// client off without stopping notifyd), a static file server (optionally
// proxying notifyd's routes, so a page and notifyd share one origin) and
// headless Chromium. Every wait is bounded; only processes started here are
// stopped, by their PID.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = process.env.NOTIFYD_BIN || path.join(TOP, 'build', 'notifyd');
export const SECRET = 'client-tests-secret-0123456789abcdef';
const SANITIZER_MARKERS = ['AddressSanitizer', 'runtime error:', 'LeakSanitizer', 'ThreadSanitizer'];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects with a clear message if `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** Polls `fn` until it returns a truthy value; returns it. */
export async function waitFor(fn, ms, what, every = 50) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(every);
  }
}

const b64url = (b) => Buffer.from(b).toString('base64url');

/** An HS256 JWT for `user` signed with the tests' secret. */
export function token(user, { role = 'user', ttl = 3600, secret = SECRET, ...claims } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const body = { sub: String(user), user_id: String(user), iat: now, exp: now + ttl, ...claims };
  if (role) body.role = role;
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(JSON.stringify(body));
  const sig = createHmac('sha256', secret).update(`${head}.${payload}`).digest('base64url');
  return `${head}.${payload}.${sig}`;
}

export function tmpDir(prefix = 'notifyd-client-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** One notifyd process. `await Notifyd.start()`; `await nd.stop()` checks exit 0 and no sanitizer report. */
export class Notifyd {
  constructor({ dataDir, grpcPort = 0, httpPort = 0, args = [], env = {} } = {}) {
    this.ownTmp = dataDir ? null : tmpDir();
    this.dataDir = dataDir || path.join(this.ownTmp, 'data');
    this.grpcPort = grpcPort;
    this.httpPort = httpPort;
    this.args = args;
    this.env = env;
    this.proc = null;
    this.log = '';
    this.allLogs = '';
  }

  static async start(opts) {
    const nd = new Notifyd(opts);
    await nd.start();
    return nd;
  }

  async start() {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NOTIFYD_')));
    env.NOTIFYD_JWT_SECRET = SECRET;
    env.ASAN_OPTIONS = env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0';
    Object.assign(env, this.env);
    const argv = ['--grpc-addr', `127.0.0.1:${this.grpcPort}`, '--http-addr', `127.0.0.1:${this.httpPort}`,
      '--data-dir', this.dataDir, ...this.args];
    this.log = '';
    const proc = spawn(BIN, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    // 'close': the process has exited and its stderr is read to the end
    this.exited = new Promise((resolve) => proc.on('close', (code, sig) => resolve({ code, sig })));
    proc.stderr.setEncoding('utf8');
    let pending = '';
    const listening = new Promise((resolve, reject) => {
      proc.stderr.on('data', (chunk) => {
        this.log += chunk;
        this.allLogs += chunk;
        pending += chunk;
        let i;
        while ((i = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, i);
          pending = pending.slice(i + 1);
          try {
            const r = JSON.parse(line);
            if (r.msg === 'listening') resolve(r);
          } catch { /* not JSON */ }
        }
      });
      proc.on('exit', (code) => reject(new Error(`notifyd exited (${code}) before listening:\n${this.log}`)));
      proc.on('error', reject);
    });
    const r = await withTimeout(listening, 60000, 'notifyd to log "listening"');
    this.grpcPort = r.grpc_port;
    this.httpPort = r.http_port;
    return this;
  }

  get grpcAddr() { return `127.0.0.1:${this.grpcPort}`; }
  get httpUrl() { return `http://127.0.0.1:${this.httpPort}`; }
  get wsUrl() { return `ws://127.0.0.1:${this.httpPort}/ws`; }

  /** SIGTERM, wait (bounded), assert exit 0 and a clean log. */
  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    let res;
    try {
      res = await withTimeout(this.exited, 30000, 'notifyd to exit after SIGTERM');
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
    for (const m of SANITIZER_MARKERS) {
      if (this.log.includes(m)) throw new Error(`sanitizer report in notifyd's log:\n${this.log}`);
    }
    if (res.code !== 0) throw new Error(`notifyd exited with ${res.code ?? res.sig}:\n${this.log}`);
  }

  /** Stops notifyd and starts it again on the same ports and data dir. */
  async restart() {
    await this.stop();
    await this.start();
  }

  /** Kills notifyd if it still runs (after a failed test) and removes the temp dir. */
  async cleanup() {
    if (this.proc) {
      try { await this.stop(); } catch { /* the test already failed */ }
    }
    if (this.ownTmp) fs.rmSync(this.ownTmp, { recursive: true, force: true });
  }

  /** A REST call with a service token; returns {status, body}. */
  async rest(method, route, body, tok = token('backend', { role: 'service' })) {
    const res = await withTimeout(fetch(this.httpUrl + route, {
      method,
      headers: { authorization: `Bearer ${tok}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }), 10000, `${method} ${route}`);
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, body: json };
  }

  async notify(userId, message, extra = {}) {
    const r = await this.rest('POST', '/api/websocket/notification', { user_id: userId, title: 't', message, level: 'info', ...extra });
    if (r.status !== 200) throw new Error(`notify: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.data;
  }

  async progress(userId, taskId, progress) {
    const r = await this.rest('POST', '/api/websocket/task/progress', {
      user_id: userId, task_id: taskId, task_type: 'batchgo', status: 'running', progress, total: 100, completed: progress, failed: 0, message: `p${progress}`,
    });
    if (r.status !== 200) throw new Error(`progress: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.data;
  }

  /** One unlabelled value of /metrics (0 when absent). */
  async metric(name) {
    const res = await withTimeout(fetch(this.httpUrl + '/metrics'), 10000, 'GET /metrics');
    const line = (await res.text()).split('\n').find((l) => l.startsWith(name + ' '));
    return line ? Number(line.slice(name.length + 1)) : 0;
  }

  async stats() {
    const r = await this.rest('GET', '/api/websocket/stats', null, token('admin', { role: 'admin' }));
    return r.body.data;
  }
}

/** A TCP proxy in front of a port: sever() cuts every connection, block() refuses new ones. */
export class TcpProxy {
  constructor(targetPort) {
    this.targetPort = targetPort;
    this.blocked = false;
    this.socks = new Set();
    this.server = net.createServer((c) => this._accept(c));
  }

  static async start(targetPort) {
    const p = new TcpProxy(targetPort);
    await new Promise((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = p.server.address().port;
    return p;
  }

  _accept(c) {
    if (this.blocked) {
      c.destroy();
      return;
    }
    const up = net.connect(this.targetPort, '127.0.0.1');
    this.socks.add(c);
    this.socks.add(up);
    const done = () => {
      c.destroy();
      up.destroy();
      this.socks.delete(c);
      this.socks.delete(up);
    };
    c.on('error', done).on('close', done);
    up.on('error', done).on('close', done);
    c.pipe(up);
    up.pipe(c);
  }

  get wsUrl() { return `ws://127.0.0.1:${this.port}/ws`; }

  sever() {
    for (const s of this.socks) s.destroy();
    this.socks.clear();
  }

  block() { this.blocked = true; this.sever(); }
  unblock() { this.blocked = false; }

  async close() {
    this.sever();
    await new Promise((r) => this.server.close(r));
  }
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.ts': 'text/plain; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml' };

/**
 * A static server: `files` maps URL paths to files on disk ('/' too). With `proxyPort`,
 * every other request, and WebSocket upgrades, go to that port (notifyd), so pages
 * see the layout notifyd itself serves: the console, /notifyd.js, /api, /ws on one origin.
 */
export async function staticServer(files, { proxyPort } = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const file = files[url.pathname];
    if (file && req.method === 'GET') {
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(fs.readFileSync(file));
      return;
    }
    if (!proxyPort) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: proxyPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  const sockets = new Set();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  server.on('upgrade', (req, sock, head) => {
    if (!proxyPort) { sock.destroy(); return; }
    const up = net.connect(proxyPort, '127.0.0.1', () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + '\r\n');
      if (head && head.length) up.write(head);
      sock.pipe(up);
      up.pipe(sock);
    });
    sockets.add(up);
    const done = () => { sock.destroy(); up.destroy(); sockets.delete(up); };
    sock.on('error', done).on('close', done);
    up.on('error', done).on('close', done);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium via playwright-core; null (test skipped) when either is missing. */
export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) return null;
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch {
    return null;
  }
  return withTimeout(chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60000 }), 70000, 'Chromium to start');
}

/** Opens a WebSocket from Node (npm ws) and collects its messages. */
export async function openWs(url, tok, { WebSocket } = {}) {
  const WS = WebSocket || (await import('ws')).WebSocket;
  const ws = new WS(`${url}?token=${encodeURIComponent(tok)}`);
  const messages = [];
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    messages.push(m);
    if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
  });
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', () => { if (messages.some((m) => m.type === 'connected')) resolve(); });
  }), 10000, `WebSocket ${url} to get "connected"`);
  return { ws, messages, close: () => new Promise((r) => { if (ws.readyState === 3) r(); else { ws.once('close', r); ws.close(); } }) };
}

/** Where tests leave screenshots: NOTIFYD_ARTIFACTS_DIR (ctest: the build dir's artifacts/), else tests/artifacts/. */
export function artifactsDir() {
  const dir = process.env.NOTIFYD_ARTIFACTS_DIR || path.join(TOP, 'tests', 'artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
