// Helpers shared by the deployment checks (validate_k8s.mjs,
// check_image_libs.mjs): paths, the Dockerfile, `notifyd --help`,
// scripts/deps.sh and CMakeLists.txt, read the way the checks need them.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const NOTIFYD_BIN = process.env.NOTIFYD_BIN || path.join(ROOT, "build/notifyd");

export function read(rel) {
  return readFileSync(path.join(ROOT, rel), "utf8");
}

// ---------------------------------------------------------------- Dockerfile

// Instructions with line continuations joined and comments dropped, grouped
// into stages: [{from, name, index, instructions: [{op, args, line}]}].
export function parseDockerfile(text) {
  const stages = [];
  const lines = text.split("\n");
  let buf = "";
  let start = 0;
  const flush = () => {
    const s = buf.trim();
    buf = "";
    if (!s) return;
    const m = /^(\S+)\s*(.*)$/s.exec(s);
    const op = m[1].toUpperCase();
    const args = m[2].trim();
    if (op === "FROM") {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile:${start}: cannot read FROM ${args}`);
      stages.push({ from: f[1], name: f[2] || null, index: stages.length, instructions: [] });
    } else {
      if (!stages.length) {
        if (op === "ARG") return; // ARG before the first FROM
        throw new Error(`Dockerfile:${start}: ${op} before FROM`);
      }
      stages[stages.length - 1].instructions.push({ op, args, line: start });
    }
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (!buf && /^\s*#/.test(raw)) continue; // comment (or parser directive)
    if (buf && /^\s*#/.test(raw)) continue; // comment inside a continued instruction
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, " ");
    } else {
      buf += raw;
      flush();
    }
  }
  flush();
  return stages;
}

// Package names given to `apt-get install` (or `apt install`) in a stage's
// RUN instructions.
export function aptInstalls(stage) {
  const pkgs = [];
  for (const ins of stage.instructions) {
    if (ins.op !== "RUN") continue;
    for (const cmd of ins.args.split(/&&|\|\||;|\|/)) {
      const words = cmd.trim().split(/\s+/).filter((w) => !/^[A-Z_][A-Z0-9_]*=/.test(w));
      const a = words.findIndex((w) => /^apt(-get)?$/.test(w));
      const i = a < 0 ? -1 : words.indexOf("install", a + 1);
      if (i < 0) continue;
      for (const w of words.slice(i + 1)) {
        if (w.startsWith("-")) continue;
        pkgs.push(w.replace(/=.*$/, ""));
      }
    }
  }
  return pkgs;
}

// What the runtime (last) stage says about the image.
export function imageFacts(text) {
  const stages = parseDockerfile(text);
  if (stages.length < 2) throw new Error("Dockerfile: expected a build stage and a runtime stage");
  const rt = stages[stages.length - 1];
  const facts = { stages, runtime: rt, build: stages[0], user: null, expose: [], env: {}, labels: {},
    entrypoint: null, copies: [] };
  const unquote = (s) => s.replace(/^"(.*)"$/s, "$1");
  for (const ins of rt.instructions) {
    switch (ins.op) {
      case "USER":
        facts.user = ins.args;
        break;
      case "EXPOSE":
        for (const p of ins.args.split(/\s+/)) facts.expose.push(Number(p.replace(/\/tcp$/i, "")));
        break;
      case "ENV":
      case "LABEL":
        for (const m of ins.args.matchAll(/([A-Za-z0-9_.\-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
          (ins.op === "ENV" ? facts.env : facts.labels)[m[1]] = unquote(m[2]);
        }
        break;
      case "ENTRYPOINT":
        facts.entrypoint = ins.args.startsWith("[") ? JSON.parse(ins.args) : ins.args.split(/\s+/);
        break;
      case "COPY":
        facts.copies.push(ins.args);
        break;
      default:
    }
  }
  return facts;
}

// ------------------------------------------------------------- notifyd --help

// Map NOTIFYD_* -> {flag, default} from the table `notifyd --help` prints.
export function parseHelp(text) {
  const vars = new Map();
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s{2,}/);
    if (cols.length >= 3 && /^NOTIFYD_[A-Z0-9_]+$/.test(cols[1])) {
      vars.set(cols[1], { flag: cols[0] === "-" ? null : cols[0], default: cols[2] === "-" ? null : cols[2] });
    }
  }
  return vars;
}

export function notifydHelp(env = {}) {
  return execFileSync(NOTIFYD_BIN, ["--help"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH || "/usr/bin:/bin", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

// --------------------------------------------------------- other repo files

// The words of a bash array `name=(a b\n c)` in scripts/deps.sh.
export function bashArray(text, name) {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, "m").exec(text);
  if (!m) throw new Error(`no array ${name}=(...)`);
  return m[1].replace(/#.*$/gm, "").split(/\s+/).filter(Boolean);
}

export function cmakeVersion(text) {
  const m = /project\(\s*notifyd\b[^)]*\bVERSION\s+([0-9][0-9.]*)/i.exec(text);
  if (!m) throw new Error("CMakeLists.txt: no project(notifyd VERSION x.y.z)");
  return m[1];
}

// "10000" (milliseconds for *_MS), "500ms", "30s", "5m", "1h", "7d" -> ms
export function durationMs(v, bareUnit = "ms") {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(String(v).trim());
  if (!m) return NaN;
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }[m[2] || bareUnit];
  return Number(m[1]) * unit;
}

// "0.0.0.0:50051", "[::]:8080" -> 50051, 8080
export function addrPort(addr) {
  const m = /:(\d+)$/.exec(String(addr));
  return m ? Number(m[1]) : NaN;
}
