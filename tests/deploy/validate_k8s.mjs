#!/usr/bin/env node
// Validates k8s/ without a cluster:
//  1. renders it: `kubectl kustomize k8s` (or $KUSTOMIZE, e.g. "kustomize build")
//     when such a tool is installed, else the files kustomization.yaml lists
//     (namespace and images applied here). With a tool, both renderings must
//     agree, so the fallback stays honest.
//  2. validates every object against the Kubernetes OpenAPI schemas
//     (npm kubernetes-models 4.5.1), and refuses keys the schema does not
//     know (the schema validators let misspelt fields through: here every key
//     the validator never looked at is reported).
//  3. checks the cross-references: the environment and ConfigMap keys are
//     variables `notifyd --help` lists and their values are accepted by it;
//     probe, Service and container ports agree with the listen addresses;
//     selectors match pod labels; terminationGracePeriodSeconds covers preStop
//     + NOTIFYD_SHUTDOWN_GRACE_MS; the data dir is a writable volume; the Redis
//     NOTIFYD_REDIS_URL names keeps what it stores (AOF on a PersistentVolumeClaim); the
//     image, UID and ports are those the Dockerfile builds; the pods meet the
//     "restricted" Pod Security Standard.
//  4. self-test: breaks the rendered objects in known ways, and each must be
//     reported.
//
//   node tests/deploy/validate_k8s.mjs
// Environment: NOTIFYD_BIN (default build/notifyd), KUSTOMIZE ("kustomize
// build", "kubectl kustomize"; "none": the fallback alone), VERBOSE=1 (print
// what each self-test found).
//
// Exit 0: valid; 1: problems (each printed on a FAIL line).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments } from "yaml";
import {
  NOTIFYD_BIN, ROOT, addrPort, cmakeVersion, durationMs, imageFacts, parseHelp, read,
} from "./lib.mjs";

const K8S = path.join(ROOT, "k8s");
const require = createRequire(import.meta.url);
// kubernetes-models/<group>/<version>/<Kind>.mjs ("v1" for the core group)
const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));

// Variables the manifests set for features being built now: a binary that
// does not list them yet gets a warning, not a failure. Remove an entry once
// `notifyd --help` lists it.
const PENDING = {};

// Cluster-scoped kinds: no namespace.
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
  "StorageClass", "CustomResourceDefinition", "PriorityClass", "IngressClass"]);
const WORKLOADS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);

// ------------------------------------------------------------------ render

function parseYamlDocs(text, where) {
  const out = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${where}: ${doc.errors[0].message}`);
    const v = doc.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

// What kustomize does with this kustomization.yaml, for the fields it may use.
function renderFallback() {
  const kfile = path.join(K8S, "kustomization.yaml");
  const [k] = parseYamlDocs(readFileSync(kfile, "utf8"), "k8s/kustomization.yaml");
  const allowed = new Set(["apiVersion", "kind", "namespace", "resources", "images"]);
  for (const key of Object.keys(k)) {
    if (!allowed.has(key)) {
      throw new Error(`k8s/kustomization.yaml: "${key}" is not supported by the fallback renderer `
        + `of ${path.relative(ROOT, new URL(import.meta.url).pathname)} (only ${[...allowed].join(", ")})`);
    }
  }
  if (k.kind !== "Kustomization") throw new Error("k8s/kustomization.yaml: kind is not Kustomization");
  const objs = [];
  for (const r of k.resources || []) {
    const f = path.join(K8S, r);
    if (!existsSync(f) || !statSync(f).isFile()) {
      throw new Error(`k8s/kustomization.yaml: resource ${r} is not a file in k8s/`);
    }
    objs.push(...parseYamlDocs(readFileSync(f, "utf8"), `k8s/${r}`));
  }
  for (const o of objs) {
    if (k.namespace && o.metadata && !CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
    for (const c of podContainers(o)) {
      for (const img of k.images || []) {
        const { name, tag, digest } = splitImage(c.image);
        if (name !== img.name) continue;
        c.image = (img.newName || name) + (img.digest ? `@${img.digest}` : img.newTag ? `:${img.newTag}`
          : digest ? `@${digest}` : tag ? `:${tag}` : "");
      }
    }
  }
  return objs;
}

function kustomizeCommand() {
  if (process.env.KUSTOMIZE === "none") return null; // the fallback alone
  if (process.env.KUSTOMIZE) {
    const [cmd, ...args] = process.env.KUSTOMIZE.split(/\s+/);
    return [cmd, args];
  }
  for (const [cmd, args] of [["kubectl", ["kustomize"]], ["kustomize", ["build"]]]) {
    if (spawnSync(cmd, ["version", "--client"], { stdio: "ignore" }).status === 0
      || spawnSync(cmd, ["version"], { stdio: "ignore" }).status === 0) return [cmd, args];
  }
  return null;
}

function render() {
  const fallback = renderFallback();
  const tool = kustomizeCommand();
  if (!tool) return {
    objs: fallback,
    how: `the files listed in k8s/kustomization.yaml (${process.env.KUSTOMIZE === "none" ? "KUSTOMIZE=none" : "no kustomize found"})`,
  };
  const [cmd, args] = tool;
  const r = spawnSync(cmd, [...args, K8S], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} k8s failed:\n${r.stderr}`);
  const objs = parseYamlDocs(r.stdout, `${cmd} ${args.join(" ")} output`);
  // the fallback must say the same as kustomize
  const key = (o) => `${o.apiVersion}/${o.kind}/${o.metadata?.namespace || ""}/${o.metadata?.name}`;
  const fb = new Map(fallback.map((o) => [key(o), o]));
  const drift = [];
  for (const o of objs) {
    const f = fb.get(key(o));
    if (!f) drift.push(`${key(o)} only in kustomize's output`);
    else if (!isDeepStrictEqual(JSON.parse(JSON.stringify(f)), JSON.parse(JSON.stringify(o)))) {
      drift.push(`${key(o)} differs between kustomize and the fallback renderer`);
    }
    fb.delete(key(o));
  }
  for (const k of fb.keys()) drift.push(`${k} missing from kustomize's output`);
  if (drift.length) throw new Error(`fallback renderer drifted from kustomize:\n  ${drift.join("\n  ")}`);
  return { objs, how: `${cmd} ${args.join(" ")} k8s (fallback renderer agrees)` };
}

// --------------------------------------------------------------- schemas

// The compiled schema validator of kubernetes-models for apiVersion + kind.
const validators = new Map();
function schemaValidator(apiVersion, kind) {
  const id = `${apiVersion}/${kind}`;
  if (validators.has(id)) return validators.get(id);
  const file = path.join(MODELS, apiVersion, `${kind}.mjs`);
  if (!/^[a-z0-9.]+(\/v[0-9a-z]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind) || !existsSync(file)) {
    validators.set(id, null);
    return null;
  }
  const m = /from\s*"([^"]*_schemas\/\w+\.mjs)"/.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`cannot find the schema of ${id} in ${file}`);
  const v = import(new URL(m[1], `file://${file}`).href).then((mod) => mod.validate);
  validators.set(id, v);
  return v;
}

// Wraps obj so that every key the validator reads is recorded; objects the
// validator enumerates (maps: labels, data, resources.limits...) accept any key.
function track(obj, where, seen) {
  if (obj === null || typeof obj !== "object") return obj;
  const entry = { obj, read: new Set(), enumerated: false };
  seen.set(where, entry);
  const children = new Map();
  return new Proxy(obj, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r);
      if (typeof k !== "string") return v;
      entry.read.add(k);
      if (v === null || typeof v !== "object") return v;
      if (!children.has(k)) children.set(k, track(v, `${where}.${k}`, seen));
      return children.get(k);
    },
    has(t, k) {
      if (typeof k === "string") entry.read.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      entry.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

async function schemaProblems(o, name) {
  if (!o || typeof o !== "object" || !o.apiVersion || !o.kind) return [`${name}: no apiVersion/kind`];
  const vp = schemaValidator(o.apiVersion, o.kind);
  if (!vp) return [`${name}: no Kubernetes schema for ${o.apiVersion} ${o.kind}`];
  const validate = await vp;
  const seen = new Map();
  const out = [];
  if (!validate(track(o, "", seen))) {
    for (const e of validate.errors) {
      const at = e.instancePath.replace(/\//g, ".") || ".";
      const detail = e.params?.missingProperty ? `missing ${e.params.missingProperty}`
        : e.params?.type ? `must be ${e.params.type}` : e.params?.allowedValues
          ? `must be one of ${e.params.allowedValues.join(", ")}` : e.keyword;
      out.push(`${name}: schema: ${at}: ${detail}`);
    }
  }
  for (const [where, { obj, read: r, enumerated }] of seen) {
    if (Array.isArray(obj) || enumerated) continue;
    for (const k of Object.keys(obj)) {
      if (!r.has(k)) out.push(`${name}: unknown key ${where || ""}.${k} (not in the ${o.kind} schema)`.replace("..", "."));
    }
  }
  return out;
}

// ------------------------------------------------------------ helpers

function splitImage(image) {
  let rest = String(image || "");
  let digest = null;
  let tag = null;
  const at = rest.indexOf("@");
  if (at >= 0) [rest, digest] = [rest.slice(0, at), rest.slice(at + 1)];
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) [rest, tag] = [rest.slice(0, colon), rest.slice(colon + 1)];
  return { name: rest, tag, digest };
}

function podSpec(o) {
  if (WORKLOADS.has(o.kind)) return o.spec?.template?.spec;
  if (o.kind === "Pod") return o.spec;
  return null;
}
function podContainers(o) {
  const s = podSpec(o);
  return s ? [...(s.initContainers || []), ...(s.containers || [])] : [];
}
function matches(selector, labels) {
  if (!selector || !Object.keys(selector).length) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
function resolvePort(port, container) {
  if (typeof port === "number") return port;
  const p = (container.ports || []).find((x) => x.name === port);
  return p ? p.containerPort : NaN;
}
const id = (o) => `${o.kind}/${o.metadata?.name}`;

// ---------------------------------------------------------- the checks

// ctx: {help: Map, image: Dockerfile facts, version}
function crossProblems(objs, ctx) {
  const out = [];
  const P = (where, msg) => out.push(`${where}: ${msg}`);
  const byKind = (k) => objs.filter((o) => o.kind === k);
  const find = (k, n) => objs.find((o) => o.kind === k && o.metadata?.name === n);

  // every namespaced object in the one Namespace
  const nss = byKind("Namespace").map((o) => o.metadata.name);
  for (const o of objs) {
    if (CLUSTER_SCOPED.has(o.kind)) continue;
    if (!o.metadata?.namespace) P(id(o), "no namespace (kustomization.yaml sets it)");
    else if (nss.length && !nss.includes(o.metadata.namespace)) {
      P(id(o), `namespace ${o.metadata.namespace} is not the Namespace object's (${nss.join(", ")})`);
    }
  }

  // the restricted Pod Security Standard, requests and limits, for every workload
  for (const o of objs.filter((x) => WORKLOADS.has(x.kind))) {
    const spec = podSpec(o) || {};
    const tl = o.spec?.template?.metadata?.labels;
    if (!matches(o.spec?.selector?.matchLabels, tl)) P(id(o), "spec.selector does not match the pod template's labels");
    const psc = spec.securityContext || {};
    if (spec.automountServiceAccountToken !== false) P(id(o), "automountServiceAccountToken should be false");
    for (const c of podContainers(o)) {
      const w = `${id(o)} container ${c.name}`;
      const sc = c.securityContext || {};
      if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) P(w, "runAsNonRoot is not true");
      const uid = sc.runAsUser ?? psc.runAsUser;
      if (uid === 0) P(w, "runAsUser is 0 (root)");
      if (sc.readOnlyRootFilesystem !== true) P(w, "readOnlyRootFilesystem is not true");
      if (sc.allowPrivilegeEscalation !== false) P(w, "allowPrivilegeEscalation is not false");
      if (sc.privileged === true) P(w, "privileged");
      if (!(sc.capabilities?.drop || []).includes("ALL")) P(w, "capabilities.drop does not include ALL");
      if ((sc.capabilities?.add || []).length) P(w, "adds capabilities");
      const sp = (sc.seccompProfile || psc.seccompProfile)?.type;
      if (sp !== "RuntimeDefault" && sp !== "Localhost") P(w, "seccompProfile is not RuntimeDefault");
      for (const r of ["cpu", "memory"]) {
        if (!c.resources?.requests?.[r]) P(w, `no resources.requests.${r}`);
        if (!c.resources?.limits?.[r]) P(w, `no resources.limits.${r}`);
      }
    }
    for (const v of spec.volumes || []) {
      if (v.hostPath) P(id(o), `volume ${v.name} is a hostPath`);
    }
  }

  // Services select pods, and their target ports exist
  for (const s of byKind("Service")) {
    const pods = objs.filter((o) => WORKLOADS.has(o.kind) && matches(s.spec?.selector, o.spec?.template?.metadata?.labels));
    if (!pods.length) {
      P(id(s), `selector ${JSON.stringify(s.spec?.selector)} selects no pod of the Deployments here`);
      continue;
    }
    for (const sp of s.spec.ports || []) {
      for (const o of pods) {
        const tp = sp.targetPort ?? sp.port;
        const ok = podContainers(o).some((c) => (c.ports || []).some((p) => (typeof tp === "number"
          ? p.containerPort === tp : p.name === tp) && (p.protocol || "TCP") === (sp.protocol || "TCP")));
        if (!ok) P(id(s), `port ${sp.name || sp.port}: targetPort ${tp} is no container port of ${id(o)}`);
      }
    }
  }
  for (const pdb of byKind("PodDisruptionBudget")) {
    if (!objs.some((o) => WORKLOADS.has(o.kind) && matches(pdb.spec?.selector?.matchLabels, o.spec?.template?.metadata?.labels))) {
      P(id(pdb), "selector selects no pod of the Deployments here");
    }
  }
  for (const h of byKind("HorizontalPodAutoscaler")) {
    const t = h.spec?.scaleTargetRef || {};
    const d = find(t.kind, t.name);
    if (!d) P(id(h), `scaleTargetRef ${t.kind}/${t.name} is not defined here`);
    else if (d.spec?.replicas !== undefined && d.spec.replicas < (h.spec.minReplicas ?? 1)) {
      P(id(h), `minReplicas ${h.spec.minReplicas} is above the Deployment's replicas ${d.spec.replicas}`);
    }
  }

  // ---- notifyd itself
  const d = objs.find((o) => o.kind === "Deployment" && podContainers(o).some((c) => c.name === "notifyd"));
  if (!d) {
    P("k8s", "no Deployment with a container named notifyd");
    return out;
  }
  const D = id(d);
  const spec = podSpec(d);
  const c = spec.containers.find((x) => x.name === "notifyd");
  if (d.spec.replicas !== 2) P(D, `replicas is ${d.spec.replicas}, expected 2`);

  // the environment notifyd sees: envFrom ConfigMaps/Secrets, then env
  const env = new Map(); // name -> {value, from}
  for (const ef of c.envFrom || []) {
    const ref = ef.configMapRef || ef.secretRef;
    const kind = ef.configMapRef ? "ConfigMap" : "Secret";
    const src = find(kind, ref?.name);
    if (!src) {
      P(D, `envFrom ${kind} ${ref?.name} is not defined here`);
      continue;
    }
    const data = { ...(src.data || {}), ...(src.stringData || {}) };
    for (const [k, v] of Object.entries(data)) {
      env.set((ef.prefix || "") + k, { value: kind === "Secret" && src.data?.[k] ? Buffer.from(v, "base64").toString() : String(v), from: `${kind} ${src.metadata.name}` });
    }
  }
  for (const e of c.env || []) {
    if (e.value !== undefined) {
      env.set(e.name, { value: String(e.value), from: "env" });
      continue;
    }
    const ref = e.valueFrom?.configMapKeyRef || e.valueFrom?.secretKeyRef;
    const kind = e.valueFrom?.configMapKeyRef ? "ConfigMap" : e.valueFrom?.secretKeyRef ? "Secret" : null;
    if (!kind) {
      env.set(e.name, { value: null, from: "env (fieldRef/resourceFieldRef)" });
      continue;
    }
    const src = find(kind, ref.name);
    const data = src ? { ...(src.data || {}), ...(src.stringData || {}) } : {};
    if (!src) P(D, `env ${e.name}: ${kind} ${ref.name} is not defined here`);
    else if (!(ref.key in data)) P(D, `env ${e.name}: ${kind} ${ref.name} has no key ${ref.key}`);
    else {
      const v = kind === "Secret" && src.data?.[ref.key] ? Buffer.from(data[ref.key], "base64").toString() : String(data[ref.key]);
      env.set(e.name, { value: v, from: `${kind} ${ref.name}` });
    }
  }
  const warnings = [];
  for (const [name, { from }] of env) {
    if (ctx.help.has(name)) continue;
    if (PENDING[name]) warnings.push(`${name} (${from}) is not listed by this notifyd --help yet: ${PENDING[name]}`);
    else P(D, `${name} (${from}) is not a variable notifyd knows (notifyd --help): a misspelt setting is silently ignored`);
  }
  const secretEnv = c.env?.find((e) => e.name === "NOTIFYD_JWT_SECRET");
  if (!secretEnv?.valueFrom?.secretKeyRef) P(D, "NOTIFYD_JWT_SECRET must come from a Secret (env valueFrom.secretKeyRef)");
  for (const cm of byKind("ConfigMap")) {
    if (cm.data && "NOTIFYD_JWT_SECRET" in cm.data) P(id(cm), "holds NOTIFYD_JWT_SECRET: put it in the Secret");
  }
  // the values: notifyd parses its environment before it looks at --help
  const known = Object.fromEntries([...env].filter(([n, v]) => ctx.help.has(n) && v.value !== null).map(([n, v]) => [n, v.value]));
  const run = spawnSync(NOTIFYD_BIN, ["--help"], { encoding: "utf8", env: { PATH: process.env.PATH, ...known } });
  if (run.status !== 0) P(D, `notifyd refuses the configured environment: ${(run.stderr || "").trim() || `exit ${run.status}`}`);
  const setting = (n) => (env.has(n) ? env.get(n).value : ctx.help.get(n)?.default ?? null);
  const hbi = durationMs(setting("NOTIFYD_HEARTBEAT_INTERVAL_MS"));
  const hbt = durationMs(setting("NOTIFYD_HEARTBEAT_TIMEOUT_MS"));
  if (hbt <= hbi) P(D, `NOTIFYD_HEARTBEAT_TIMEOUT_MS (${hbt} ms) must be longer than NOTIFYD_HEARTBEAT_INTERVAL_MS (${hbi} ms)`);

  // ports
  const grpcPort = addrPort(setting("NOTIFYD_GRPC_ADDR"));
  const httpPort = addrPort(setting("NOTIFYD_HTTP_ADDR"));
  const cport = (n) => (c.ports || []).find((p) => p.name === n)?.containerPort;
  if (cport("grpc") !== grpcPort) P(D, `container port grpc is ${cport("grpc")}, NOTIFYD_GRPC_ADDR listens on ${grpcPort}`);
  if (cport("http") !== httpPort) P(D, `container port http is ${cport("http")}, NOTIFYD_HTTP_ADDR listens on ${httpPort}`);
  for (const [probeName, probe] of [["livenessProbe", c.livenessProbe], ["startupProbe", c.startupProbe]]) {
    if (!probe) {
      if (probeName === "livenessProbe") P(D, "no livenessProbe");
      continue;
    }
    if (!probe.grpc) P(D, `${probeName} is not a native gRPC probe`);
    else {
      if (probe.grpc.port !== grpcPort) P(D, `${probeName} gRPC port ${probe.grpc.port} is not the gRPC listen port ${grpcPort}`);
      if ((probe.grpc.service ?? "") !== "") P(D, `${probeName} asks for service "${probe.grpc.service}": "" is the liveness one`);
    }
  }
  const rp = c.readinessProbe;
  if (!rp?.httpGet) P(D, "readinessProbe is not an httpGet");
  else {
    if (rp.httpGet.path !== "/readyz") P(D, `readinessProbe path is ${rp.httpGet.path}, expected /readyz`);
    if (resolvePort(rp.httpGet.port, c) !== httpPort) P(D, `readinessProbe port ${rp.httpGet.port} is not the HTTP listen port ${httpPort}`);
    const tls = !!setting("NOTIFYD_TLS_CERT_FILE");
    if (tls !== ((rp.httpGet.scheme || "HTTP") === "HTTPS")) P(D, `readinessProbe scheme ${rp.httpGet.scheme || "HTTP"} while TLS is ${tls ? "on" : "off"}`);
  }
  const svc = byKind("Service").find((s) => matches(s.spec?.selector, d.spec.template.metadata.labels));
  if (!svc) P(D, "no Service selects the notifyd pods");
  else {
    const g = (svc.spec.ports || []).find((p) => p.name === "grpc");
    if (!g) P(id(svc), "no port named grpc");
    else {
      if (resolvePort(g.targetPort ?? g.port, c) !== grpcPort) P(id(svc), `port grpc targets ${g.targetPort}, not the gRPC port ${grpcPort}`);
      if (!["kubernetes.io/h2c", "grpc", "http2", "h2c"].includes(g.appProtocol)) P(id(svc), `port grpc has appProtocol ${g.appProtocol}, expected kubernetes.io/h2c`);
    }
    const h = (svc.spec.ports || []).find((p) => resolvePort(p.targetPort ?? p.port, c) === httpPort);
    if (!h) P(id(svc), `no port targets the HTTP port ${httpPort}`);
  }

  // shutdown: the kubelet's deadline covers preStop + notifyd's grace
  const graceMs = durationMs(setting("NOTIFYD_SHUTDOWN_GRACE_MS"));
  const pre = c.lifecycle?.preStop;
  let preStopS = 0;
  if (pre?.sleep) preStopS = pre.sleep.seconds;
  else if (pre?.exec?.command?.[0] === "sleep") preStopS = Number(pre.exec.command[1]);
  else if (pre) P(D, "preStop is neither `sleep N` nor a sleep action: cannot tell how long it takes");
  if (Number.isNaN(preStopS)) P(D, "preStop sleep has no number of seconds");
  const tgp = spec.terminationGracePeriodSeconds ?? 30;
  const need = preStopS + graceMs / 1000 + 1; // + the WebSocket close (up to 1 s)
  if (!(tgp > need)) {
    P(D, `terminationGracePeriodSeconds ${tgp} must exceed preStop ${preStopS} s + NOTIFYD_SHUTDOWN_GRACE_MS `
      + `${graceMs / 1000} s + 1 s WebSocket close = ${need} s`);
  }

  // data dir: a writable volume when the root filesystem is read-only
  const dataDir = setting("NOTIFYD_DATA_DIR");
  if (!dataDir || !dataDir.startsWith("/")) P(D, `NOTIFYD_DATA_DIR should be an absolute path (is ${dataDir})`);
  const m = (c.volumeMounts || []).find((vm) => path.posix.normalize(vm.mountPath) === path.posix.normalize(dataDir || ""));
  if (!m) P(D, `no volume is mounted at NOTIFYD_DATA_DIR ${dataDir}: with readOnlyRootFilesystem notifyd cannot write messages.db`);
  else {
    if (m.readOnly) P(D, `the volume at ${dataDir} is read-only`);
    const v = (spec.volumes || []).find((x) => x.name === m.name);
    if (!v) P(D, `volumeMount ${m.name} has no volume`);
    else if (!v.emptyDir && !v.persistentVolumeClaim && !v.ephemeral) P(D, `volume ${m.name} at ${dataDir} is neither an emptyDir nor a PVC`);
  }

  // the image the Dockerfile builds
  const img = ctx.image;
  const { name: imgName, tag } = splitImage(c.image);
  const title = img.labels["org.opencontainers.image.title"];
  if (!title) P("Dockerfile", "runtime stage has no LABEL org.opencontainers.image.title");
  if (imgName.split("/").pop() !== title) P(D, `image ${c.image} is not the ${title} image the Dockerfile builds`);
  // the licence the image says it carries is the one at the root
  const licence = existsSync(path.join(ROOT, "LICENSE")) ? readFileSync(path.join(ROOT, "LICENSE"), "utf8") : "";
  const spdx = /Apache License\s+Version 2\.0/.test(licence) ? "Apache-2.0" : null;
  if (!spdx) P("LICENSE", "missing, or not the Apache License 2.0 text");
  else if (img.labels["org.opencontainers.image.licenses"] !== spdx) {
    P("Dockerfile", `LABEL org.opencontainers.image.licenses is ${img.labels["org.opencontainers.image.licenses"]}, not ${spdx} (LICENSE)`);
  }
  if (tag !== ctx.version) P(D, `image tag ${tag} is not the version in CMakeLists.txt (${ctx.version})`);
  const [uid, gid] = String(img.user || "").split(":").map(Number);
  if (!Number.isInteger(uid) || uid === 0) P("Dockerfile", `USER ${img.user} is not a numeric non-root user`);
  const psc = spec.securityContext || {};
  const runAs = c.securityContext?.runAsUser ?? psc.runAsUser;
  const runAsG = c.securityContext?.runAsGroup ?? psc.runAsGroup;
  if (runAs !== uid) P(D, `runAsUser ${runAs} is not the Dockerfile's USER ${uid}`);
  if (Number.isInteger(gid) && runAsG !== gid) P(D, `runAsGroup ${runAsG} is not the Dockerfile's group ${gid}`);
  const exposed = [...img.expose].sort();
  const ports = (c.ports || []).map((p) => p.containerPort).sort();
  if (!isDeepStrictEqual(exposed, ports)) P(D, `container ports ${ports} are not the Dockerfile's EXPOSE ${exposed}`);
  if (img.env.NOTIFYD_DATA_DIR && img.env.NOTIFYD_DATA_DIR !== dataDir) {
    P(D, `NOTIFYD_DATA_DIR ${dataDir} is not the image's ${img.env.NOTIFYD_DATA_DIR} (owned by its user)`);
  }
  if (!isDeepStrictEqual(img.entrypoint, ["notifyd"])) P("Dockerfile", `ENTRYPOINT is ${JSON.stringify(img.entrypoint)}, expected ["notifyd"]`);
  if (c.command) P(D, "container sets command: the image's ENTRYPOINT runs notifyd");

  // Redis, when configured, is a Service here (or outside, by full name)
  const redis = setting("NOTIFYD_REDIS_URL");
  if (redis) {
    const u = /^redis:\/\/(?:[^@/]*@)?([^:/]+)(?::(\d+))?(?:\/\d+)?$/.exec(redis);
    if (!u) P(D, `NOTIFYD_REDIS_URL ${redis} is not redis://host:port/db`);
    else if (!u[1].includes(".")) {
      const rs = find("Service", u[1]);
      if (!rs) P(D, `NOTIFYD_REDIS_URL names ${u[1]}, which is no Service here`);
      else if (!(rs.spec.ports || []).some((p) => p.port === Number(u[2] || 6379))) {
        P(id(rs), `has no port ${u[2] || 6379} (NOTIFYD_REDIS_URL)`);
      } else {
        out.push(...redisPersistenceProblems(objs, rs));
      }
    }
  }
  ctx.warnings = warnings;
  return out;
}

// The Redis behind the Service keeps what notifyd stores in it: AOF on
// (appendonly yes, appendfsync not "no"), its --dir on a PersistentVolumeClaim
// (a StatefulSet's volumeClaimTemplate, or a claim), never an emptyDir.
function redisPersistenceProblems(objs, svc) {
  const out = [];
  const pods = objs.filter((o) => WORKLOADS.has(o.kind) && matches(svc.spec?.selector, o.spec?.template?.metadata?.labels));
  for (const o of pods) {
    const w = id(o);
    const c = podContainers(o).find((x) => (x.ports || []).some((p) => p.containerPort === 6379)) || podContainers(o)[0];
    const args = [...(c?.command || []), ...(c?.args || [])].map(String);
    const opt = (name) => {
      const i = args.indexOf(`--${name}`);
      return i >= 0 ? args[i + 1] : undefined;
    };
    if (opt("appendonly") !== "yes") P(w, `Redis runs without persistence: --appendonly is ${opt("appendonly") ?? "not set"}, not yes (a restart loses what notifyd answered stored: true)`);
    if (opt("appendfsync") === "no") P(w, "Redis --appendfsync no leaves fsync to the kernel: use everysec or always");
    const dir = opt("dir") || "/data";
    const m = (c?.volumeMounts || []).find((vm) => path.posix.normalize(vm.mountPath) === path.posix.normalize(dir));
    if (!m) {
      P(w, `no volume is mounted at Redis's dir ${dir}: the AOF would be written to the container`);
      continue;
    }
    const claim = (o.spec?.volumeClaimTemplates || []).find((t) => t.metadata?.name === m.name);
    const vol = (podSpec(o)?.volumes || []).find((v) => v.name === m.name);
    if (claim) {
      if (o.kind !== "StatefulSet") P(w, `volumeClaimTemplates need a StatefulSet, not a ${o.kind}`);
      if (!claim.spec?.resources?.requests?.storage) P(w, `volumeClaimTemplate ${m.name} requests no storage`);
    } else if (!vol?.persistentVolumeClaim) {
      P(w, `Redis's dir ${dir} is on ${vol ? Object.keys(vol).filter((k) => k !== "name").join(", ") : "nothing"}, not a PersistentVolumeClaim: a rescheduled pod starts empty`);
    }
  }
  return out;
  function P(where, msg) { out.push(`${where}: ${msg}`); }
}

async function problemsOf(objs, ctx) {
  const out = [];
  for (const o of objs) out.push(...(await schemaProblems(o, id(o))));
  out.push(...crossProblems(objs, ctx));
  return out;
}

// --------------------------------------------------------------- self-test

// Each mutation of the rendered objects must be reported (a problem that
// contains `expect`).
const clone = (x) => JSON.parse(JSON.stringify(x));
const nd = (objs) => objs.find((o) => o.kind === "Deployment" && o.metadata.name === "notifyd");
const ndc = (objs) => nd(objs).spec.template.spec.containers[0];
const redis = (objs) => objs.find((o) => o.kind === "StatefulSet" && o.metadata.name === "notifyd-redis");
const MUTATIONS = [
  ["a misspelt container key", "unknown key", (o) => {
    const c = ndc(o); c.readinesProbe = c.readinessProbe; delete c.readinessProbe;
  }],
  ["a misspelt key deep down", "unknown key", (o) => { ndc(o).livenessProbe.initialDelaySecond = 3; }],
  ["a wrong type", "schema", (o) => { nd(o).spec.replicas = "two"; }],
  ["a wrong enum value", "schema", (o) => { ndc(o).imagePullPolicy = "Sometimes"; }],
  ["an unknown kind", "no Kubernetes schema", (o) => { o.push({ apiVersion: "v1", kind: "Bogus", metadata: { name: "x", namespace: "notifyd" } }); }],
  ["a Service selecting nothing", "selects no pod", (o) => {
    o.find((x) => x.kind === "Service" && x.metadata.name === "notifyd").spec.selector["app.kubernetes.io/name"] = "notify";
  }],
  ["a liveness probe on the wrong port", "livenessProbe gRPC port", (o) => { ndc(o).livenessProbe.grpc.port = 50052; }],
  ["a readiness probe on the wrong port", "readinessProbe port", (o) => { ndc(o).readinessProbe.httpGet.port = 9090; }],
  ["a short termination grace", "terminationGracePeriodSeconds", (o) => { nd(o).spec.template.spec.terminationGracePeriodSeconds = 12; }],
  ["a misspelt setting", "not a variable notifyd knows", (o) => {
    o.find((x) => x.kind === "ConfigMap").data.NOTIFYD_SHUTDOWN_GRACE = "10000";
  }],
  ["a bad setting value", "notifyd refuses", (o) => { o.find((x) => x.kind === "ConfigMap").data.NOTIFYD_HISTORY_TTL = "soon"; }],
  ["a missing Secret key", "has no key", (o) => { ndc(o).env[0].valueFrom.secretKeyRef.key = "jwt"; }],
  ["another image", "is not the notifyd image", (o) => { ndc(o).image = "nginx:0.1.0"; }],
  ["another UID", "runAsUser", (o) => { nd(o).spec.template.spec.securityContext.runAsUser = 1000; }],
  ["a writable root filesystem", "readOnlyRootFilesystem", (o) => { ndc(o).securityContext.readOnlyRootFilesystem = false; }],
  ["no data volume", "NOTIFYD_DATA_DIR", (o) => { ndc(o).volumeMounts = ndc(o).volumeMounts.filter((m) => m.name !== "data"); }],
  ["Redis URL to nowhere", "NOTIFYD_REDIS_URL", (o) => { o.find((x) => x.kind === "ConfigMap").data.NOTIFYD_REDIS_URL = "redis://redis:6379/0"; }],
  ["Redis without AOF", "without persistence", (o) => {
    const a = redis(o).spec.template.spec.containers[0].args;
    a[a.indexOf("--appendonly") + 1] = "no";
  }],
  ["Redis on an emptyDir", "not a PersistentVolumeClaim", (o) => {
    const r = redis(o);
    delete r.spec.volumeClaimTemplates;
    r.spec.template.spec.volumes = [{ name: "data", emptyDir: {} }];
  }],
];

// ------------------------------------------------------------------- main

async function main() {
  if (!existsSync(NOTIFYD_BIN)) {
    console.error(`FAIL: ${NOTIFYD_BIN} does not exist: build it first (or set NOTIFYD_BIN)`);
    process.exit(1);
  }
  const help = parseHelp(execFileSync(NOTIFYD_BIN, ["--help"], { encoding: "utf8", env: { PATH: process.env.PATH } }));
  if (help.size < 5 || !help.has("NOTIFYD_SHUTDOWN_GRACE_MS")) {
    console.error(`FAIL: cannot read the variables from ${NOTIFYD_BIN} --help`);
    process.exit(1);
  }
  const ctx = { help, image: imageFacts(read("Dockerfile")), version: cmakeVersion(read("CMakeLists.txt")) };

  let rendered;
  try {
    rendered = render();
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    process.exit(1);
  }
  const { objs, how } = rendered;
  const problems = await problemsOf(clone(objs), ctx);
  const warnings = ctx.warnings || [];

  let selfOk = 0;
  for (const [what, expect, mutate] of MUTATIONS) {
    const m = clone(objs);
    mutate(m);
    const found = await problemsOf(m, { ...ctx });
    if (process.env.VERBOSE) console.log(`self-test ${what}:\n  ${found.join("\n  ")}`);
    if (found.some((p) => p.includes(expect))) selfOk++;
    else problems.push(`self-test: ${what} was not reported (expected a problem with "${expect}"; got ${found.length ? found.join(" | ") : "none"})`);
  }

  for (const w of warnings) console.log(`WARN: ${w}`);
  if (problems.length) {
    for (const p of problems) console.error(`FAIL: ${p}`);
    console.error(`validate_k8s: ${problems.length} problem(s) in k8s/ (rendered with ${how})`);
    process.exit(1);
  }
  console.log(`validate_k8s: ok: ${objs.length} objects (${objs.map(id).join(", ")}) rendered with ${how}; `
    + `schemas, unknown keys and cross-references checked against ${path.relative(ROOT, NOTIFYD_BIN) || NOTIFYD_BIN} `
    + `(${help.size} variables) and the Dockerfile; ${selfOk}/${MUTATIONS.length} self-tests`);
}

main().catch((e) => {
  console.error(`FAIL: ${e.stack || e}`);
  process.exit(1);
});
