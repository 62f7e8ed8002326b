#!/usr/bin/env node
// The Dockerfile cannot silently miss a library: every shared library that
// `ldd` shows for the notifyd binary built here must come from a Debian
// package that the Dockerfile's runtime stage installs, or that one of those
// depends on (apt installs it with them). Also: the build stage installs the
// build group of scripts/deps.sh, and the stages use the Debian 12 images.
//
// Libraries are mapped to packages with `dpkg -S` and dependencies followed
// with `dpkg-query` on this machine, which must be Debian 12 like the image
// (otherwise the check is skipped with exit 77).
//
//   node tests/deploy/check_image_libs.mjs     (NOTIFYD_BIN=path/to/notifyd)
//
// A sanitizer build (-DNOTIFYD_SANITIZE=ON) is skipped (exit 77): the image
// ships the plain build.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { NOTIFYD_BIN, aptInstalls, bashArray, imageFacts, read } from "./lib.mjs";

const SKIP = 77;
const problems = [];

function sh(cmd, args) {
  try {
    return { ok: true, out: execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
  } catch (e) {
    return { ok: false, out: (e.stdout || "") + (e.stderr || "") };
  }
}

if (!existsSync("/usr/bin/dpkg-query") || !existsSync("/etc/debian_version")) {
  console.log("SKIP: not a Debian machine (no dpkg): cannot map libraries to Debian packages");
  process.exit(SKIP);
}
const debian = readFileSync("/etc/debian_version", "utf8").trim();
if (!/^12(\.|$)/.test(debian)) {
  console.log(`SKIP: this machine is Debian ${debian}, the image is Debian 12: package names may differ`);
  process.exit(SKIP);
}
if (!existsSync(NOTIFYD_BIN)) {
  console.error(`FAIL: ${NOTIFYD_BIN} does not exist: build it first (or set NOTIFYD_BIN)`);
  process.exit(1);
}

// ---- the libraries the binary loads (and the sanitizer runtimes, if any)
const sanitizerLibs = [];
function lddLibraries(bin) {
  const r = sh("ldd", [bin]);
  if (!r.ok) throw new Error(`ldd ${bin} failed: ${r.out.trim()}`);
  const libs = [];
  for (const line of r.out.split("\n")) {
    const t = line.trim();
    if (!t || t.startsWith("linux-vdso") || t.startsWith("linux-gate")) continue;
    let m;
    if ((m = /^(\S+) => not found/.exec(t))) problems.push(`ldd: ${m[1]} not found on this machine`);
    else if ((m = /^(lib(?:asan|ubsan|tsan|lsan|hwasan)\.so\S*) => /.exec(t))) sanitizerLibs.push(m[1]);
    else if ((m = /^(\S+) => (\S+) \(/.exec(t))) libs.push({ soname: m[1], path: m[2] });
    else if ((m = /^(\/\S+) \(/.exec(t))) libs.push({ soname: m[1].split("/").pop(), path: m[1] });
    else if (/statically linked|not a dynamic executable/.test(t)) return [];
  }
  return libs;
}

// ---- library -> package, with one `dpkg -S` for all of them. dpkg knows a
// path as the package shipped it: under /usr/lib or /lib, the symlink or its
// target, so each library is looked up under all of those names.
function candidates(p) {
  const cands = new Set([p]);
  try { cands.add(realpathSync(p)); } catch { /* dangling */ }
  for (const c of [...cands]) {
    if (c.startsWith("/usr/lib/")) cands.add(c.slice(4));
    else if (c.startsWith("/lib")) cands.add("/usr" + c);
  }
  return [...cands];
}
function packagesOf(paths) {
  const all = [...new Set(paths.flatMap(candidates))];
  const r = sh("dpkg", ["-S", ...all]); // exits 1 when some name is unknown: expected
  const byPath = new Map();
  for (const line of r.out.split("\n")) {
    const i = line.lastIndexOf(": ");
    if (i < 0 || line.startsWith("dpkg") || line.startsWith("diversion")) continue;
    const pkg = line.slice(0, i).split(", ")[0].replace(/:[a-z0-9]+$/, "");
    byPath.set(line.slice(i + 2).trim(), pkg);
  }
  return new Map(paths.map((p) => [p, candidates(p).map((c) => byPath.get(c)).find(Boolean) || null]));
}

// ---- what apt installs for a list of packages: them and their Depends and
// Pre-Depends, recursively (first alternative, as apt picks on a fresh
// system), read from this machine's dpkg database in one dpkg-query
const installed = new Map(); // package -> its dependencies
for (const line of sh("dpkg-query", ["-W", "-f=${Package}\t${Status}\t${Pre-Depends}, ${Depends}\n"]).out.split("\n")) {
  const [pkg, status, deps] = line.split("\t");
  if (!pkg || !/install ok installed/.test(status)) continue;
  installed.set(pkg, deps.split(",").map((d) => d.trim()).filter(Boolean)
    .map((d) => d.split("|")[0].trim().replace(/\s*\(.*\)$/, "").replace(/:[a-z0-9]+$/, "")));
}
function depends(pkg) {
  return installed.has(pkg) ? installed.get(pkg) : null; // null: not installed here
}
function closure(pkgs) {
  const seen = new Set();
  const todo = [...pkgs];
  while (todo.length) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    for (const d of depends(p) || []) todo.push(d);
  }
  return seen;
}

// Problems for a runtime package list (a function so the self-test can try a
// list with a package missing).
function checkRuntime(libs, owner, runtimePkgs) {
  const out = [];
  const have = closure(runtimePkgs);
  for (const p of runtimePkgs) {
    if (depends(p) === null) {
      out.push(`runtime stage installs ${p}, which is not installed on this machine: `
        + "its dependencies cannot be checked (misspelt, or not needed?)");
    }
  }
  for (const lib of libs) {
    const pkg = owner.get(lib.path);
    if (!pkg) out.push(`${lib.soname} (${lib.path}): no Debian package owns it (dpkg -S)`);
    else if (!have.has(pkg)) {
      out.push(`${lib.soname} comes from ${pkg}, which the runtime stage neither installs nor gets`
        + ` through a dependency: add ${pkg} (or the package that needs it) to its apt-get install`);
    }
  }
  return out;
}

const facts = imageFacts(read("Dockerfile"));
if (facts.build.from !== "debian:12") problems.push(`build stage is FROM ${facts.build.from}, expected debian:12`);
if (facts.runtime.from !== "debian:12-slim") {
  problems.push(`runtime stage is FROM ${facts.runtime.from}, expected debian:12-slim`);
}
const runtimePkgs = aptInstalls(facts.runtime);
const buildPkgs = aptInstalls(facts.build);
if (!runtimePkgs.length) problems.push("runtime stage installs no packages with apt-get install");
for (const p of bashArray(read("scripts/deps.sh"), "build_pkgs")) {
  if (!buildPkgs.includes(p)) problems.push(`build stage does not install ${p} (scripts/deps.sh build group)`);
}
for (const ins of facts.runtime.instructions) {
  if (ins.op === "RUN" && /apt-get install/.test(ins.args) && !/--no-install-recommends/.test(ins.args)) {
    problems.push(`Dockerfile:${ins.line}: apt-get install without --no-install-recommends`);
  }
}

const libs = lddLibraries(NOTIFYD_BIN);
if (sanitizerLibs.length) {
  console.log(`SKIP: ${NOTIFYD_BIN} is a sanitizer build (${sanitizerLibs.join(" ")}): `
    + "the image ships the plain build; check that one");
  process.exit(SKIP);
}
if (!libs.length) problems.push(`ldd shows no libraries for ${NOTIFYD_BIN}: is it dynamically linked?`);
const owner = packagesOf(libs.map((l) => l.path));
problems.push(...checkRuntime(libs, owner, runtimePkgs));

// self-test: dropping any one directly needed package must be noticed
const direct = [...new Set([...owner.values()].filter(Boolean))];
let selfTests = 0;
for (const p of runtimePkgs) {
  const others = runtimePkgs.filter((x) => x !== p);
  // only a package the binary needs and no other listed package brings along
  if (!direct.includes(p) || closure(others).has(p)) continue;
  selfTests++;
  if (!checkRuntime(libs, owner, others).length) {
    problems.push(`self-test: removing ${p} from the runtime stage went unnoticed`);
  }
}

if (problems.length) {
  for (const p of problems) console.error(`FAIL: ${p}`);
  console.error(`check_image_libs: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`check_image_libs: ok: ${libs.length} libraries from ${direct.length} packages `
  + `(${direct.sort().join(" ")}), all installed by the runtime stage's `
  + `${runtimePkgs.join(" ")}; ${selfTests} self-tests`);
