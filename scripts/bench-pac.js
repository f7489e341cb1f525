#!/usr/bin/env node
// PAC look-up cost: egressgen's proxy.pac against a Get-PacFile-style
// chain of shExpMatch tests, for the same entries. Run by
// `scripts/bench pac`, which writes the files this reads:
//
//   node scripts/bench-pac.js DIR N [N...]
//
// DIR/N/entries.txt   the allow entries, one per line: x, *.x or .x
// DIR/N/ours.pac      egressgen's PAC for them
// DIR/N/chain.pac     one `if (shExpMatch(host, ...)) return ...;` per entry
//
// Each PAC runs in a vm context of its own with the PAC helpers it may
// call. The host mix hits every kind of entry (spread over the whole
// list, so a hit in the chain costs what an average one does), misses in
// several ways and has deep subdomains; every PAC must give the expected
// answer for every host, or this exits 1. Then FindProxyForURL is called
// PAC_CALLS times (default 100,000) after a warm-up, PAC_ROUNDS times
// (default 3), cycling through the mix; the median round gives ns per
// call. A round is cut to about PAC_ROUND_SECONDS (default 5) for a PAC
// too slow for that many calls (the chain at 5,000 entries takes
// milliseconds per call); the calls made are reported, always whole
// passes over the mix. Prints a table and writes DIR/pac.json.
//
// The chain runs twice: with shExpMatch as the engines' JavaScript helper
// libraries write it (a glob turned into a new RegExp on every call), the
// chain of the targets; and with a shExpMatch that keeps each compiled
// glob, standing for an engine with a fast native shExpMatch.
"use strict";

const fs = require("fs");
const path = require("path");
const vm = require("vm");

const CALLS = Number(process.env.PAC_CALLS || 100000);
const WARMUP = Number(process.env.PAC_WARMUP || 10000);
const ROUNDS = Number(process.env.PAC_ROUNDS || 3);
const ROUND_NS = Number(process.env.PAC_ROUND_SECONDS || 5) * 1e9;
const WARMUP_NS = 1e9;
const PROXY = "PROXY proxy.example.com:3128";
const DEFAULT = "DIRECT";
// Entries of each kind the mix takes its hosts from.
const PICKS = 10;

const COMMON_HELPERS = String.raw`
function egressgenGlobToRegExp(glob) {
  var re = glob.replace(/[.+^$|()[\]{}\\\/]/g, "\\$&");
  re = re.replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp("^" + re + "$");
}
function dnsDomainIs(host, domain) {
  return host.length >= domain.length &&
    host.substring(host.length - domain.length) == domain;
}
function isPlainHostName(host) {
  return host.indexOf(".") < 0;
}
`;

// shExpMatch as a glob turned into an anchored regular expression on every
// call (V8 caches the compiled code by source, but the string work and the
// RegExp object are paid every call).
const HELPERS = {
  standard:
    COMMON_HELPERS +
    String.raw`
function shExpMatch(str, glob) {
  return egressgenGlobToRegExp(glob).test(str);
}
`,
  cached:
    COMMON_HELPERS +
    String.raw`
var egressgenGlobs = {};
function shExpMatch(str, glob) {
  var re = egressgenGlobs[glob];
  if (re === undefined) {
    re = egressgenGlobToRegExp(glob);
    egressgenGlobs[glob] = re;
  }
  return re.test(str);
}
`,
};

// Runs inside the context, so the calls are not cross-context calls.
const LOOP = `
function egressgenBenchLoop(hosts, urls, calls) {
  var n = hosts.length;
  var sum = 0;
  for (var i = 0; i < calls; i++) {
    sum += FindProxyForURL(urls[i % n], hosts[i % n]).length;
  }
  return sum;
}
`;

// The built-ins a PAC or the helpers use, bound once as local names.
const BUILTINS = ["Object", "String", "RegExp", "Array", "Number", "Math"];

// A PAC, with the helpers and the loop, in a vm context of its own,
// wrapped in one function that also binds the built-ins to local names:
// node reaches the global names of a vm context (the PAC's own and
// Object, String, RegExp...) through interceptors, at a cost (about a
// microsecond per name) that no PAC engine has and that would swamp what
// is measured. Wrapped, a PAC runs as fast as in a plain node module.
function load(file, helpers) {
  const source = fs.readFileSync(file, "utf8");
  const context = vm.createContext({});
  const wrapped =
    "(function () {\n" +
    BUILTINS.map((name) => `var ${name} = globalThis.${name};\n`).join("") +
    helpers +
    "\n" +
    source +
    "\n" +
    LOOP +
    "\nreturn { FindProxyForURL: FindProxyForURL, loop: egressgenBenchLoop };\n})()";
  const pac = vm.runInContext(wrapped, context, { filename: file });
  if (typeof pac.FindProxyForURL !== "function") {
    throw new Error(`${file}: no FindProxyForURL`);
  }
  return pac;
}

// Entries spread evenly over the list: the first, the last and between.
function spread(list, count) {
  if (list.length <= count) return list.slice();
  const out = [];
  for (let k = 0; k < count; k++) {
    out.push(list[Math.round((k * (list.length - 1)) / (count - 1))]);
  }
  return out;
}

// [host, expected answer] pairs, interleaved so no kind runs in a block.
function hostMix(entries) {
  const exact = spread(
    entries.filter((e) => !e.startsWith("*.") && !e.startsWith(".")),
    PICKS
  );
  const below = spread(
    entries.filter((e) => e.startsWith("*.")).map((e) => e.slice(2)),
    PICKS
  );
  const domain = spread(
    entries.filter((e) => e.startsWith(".")).map((e) => e.slice(1)),
    PICKS
  );
  const columns = [
    exact.map((x) => [x, PROXY]), // an exact host
    exact.map((x) => ["a." + x, DEFAULT]), // below an exact host: not covered
    below.map((x) => ["www." + x, PROXY]), // *.x
    below.map((x) => ["a.b.c.d.e.f." + x, PROXY]), // *.x, deep
    below.map((x) => [x, DEFAULT]), // *.x does not cover x
    domain.map((x) => [x, PROXY]), // .x covers x
    domain.map((x) => ["deep.er.sub." + x, PROXY]), // and below it
    exact.map((x) => [x + ".evil.example", DEFAULT]), // look-alike suffix
    exact.map((x) => [x.replace(".", "x"), DEFAULT]), // a dot is not any character
    below.map((x) => ["x" + x, DEFAULT]), // look-alike prefix, no dot
    domain.map((_, k) => [`svc${900000 + k}.example-bench.com`, DEFAULT]), // unlisted sibling
    domain.map((_, k) => [`host${k}.unrelated.example.org`, DEFAULT]), // elsewhere
  ];
  const mix = [];
  for (let k = 0; k < PICKS; k++) {
    for (const column of columns) {
      if (k < column.length) mix.push(column[k]);
    }
  }
  return mix;
}

function check(label, pac, mix) {
  const wrong = [];
  for (const [host, expected] of mix) {
    const got = pac.FindProxyForURL(`https://${host}/`, host);
    if (got !== expected) {
      wrong.push(`${host}: ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
  }
  if (wrong.length) {
    throw new Error(
      `${label}: ${wrong.length} of ${mix.length} hosts answered wrongly:\n  ${wrong
        .slice(0, 20)
        .join("\n  ")}`
    );
  }
}

function elapsed(start) {
  return Number(process.hrtime.bigint() - start);
}

// { ns: median ns per call, calls: calls per round }.
function measure(pac, mix) {
  const hosts = mix.map(([h]) => h);
  const urls = hosts.map((h) => `https://${h}/`);
  const n = hosts.length;
  // Warm-up: whole passes over the mix, up to WARMUP calls or a second.
  let warm = 0;
  let perCall = 0;
  const warmStart = process.hrtime.bigint();
  do {
    const start = process.hrtime.bigint();
    pac.loop(hosts, urls, n);
    perCall = elapsed(start) / n;
    warm += n;
  } while (warm < WARMUP && elapsed(warmStart) < WARMUP_NS);
  let calls = Math.min(CALLS, Math.max(10 * n, Math.floor(ROUND_NS / perCall)));
  if (calls < CALLS) calls = Math.ceil(calls / n) * n;
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    pac.loop(hosts, urls, calls);
    rounds.push(elapsed(start) / calls);
  }
  rounds.sort((a, b) => a - b);
  return { ns: rounds[Math.floor(rounds.length / 2)], calls };
}

function main() {
  const [dir, ...sizes] = process.argv.slice(2);
  if (!dir || sizes.length === 0) {
    console.error("usage: node scripts/bench-pac.js DIR N [N...]");
    process.exit(2);
  }
  const results = [];
  for (const size of sizes) {
    const base = path.join(dir, size);
    const entries = fs
      .readFileSync(path.join(base, "entries.txt"), "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    const mix = hostMix(entries);
    const pacs = {
      ours: load(path.join(base, "ours.pac"), HELPERS.standard),
      chain: load(path.join(base, "chain.pac"), HELPERS.standard),
      chain_cached: load(path.join(base, "chain.pac"), HELPERS.cached),
    };
    for (const [name, pac] of Object.entries(pacs)) {
      check(`${size} entries, ${name}`, pac, mix);
    }
    const result = { entries: entries.length, hosts: mix.length };
    for (const [name, pac] of Object.entries(pacs)) {
      const m = measure(pac, mix);
      result[`${name}_ns`] = m.ns;
      result[`${name}_calls`] = m.calls;
    }
    result.ours_over_chain = result.ours_ns / result.chain_ns;
    result.ours_over_chain_cached = result.ours_ns / result.chain_cached_ns;
    results.push(result);
  }
  const first = results[0];
  const last = results[results.length - 1];
  const flat = last.ours_ns / first.ours_ns;
  const cell = (ns, calls) => `${ns.toFixed(1)} (${calls})`;
  console.log(
    `PAC FindProxyForURL, ns per call (calls per round), median of ${ROUNDS} rounds, node ${process.version}`
  );
  console.log(
    "entries  hosts                ours                chain        chain, cached  ours/chain  ours/cached"
  );
  for (const r of results) {
    console.log(
      [
        String(r.entries).padStart(7),
        String(r.hosts).padStart(5),
        cell(r.ours_ns, r.ours_calls).padStart(19),
        cell(r.chain_ns, r.chain_calls).padStart(20),
        cell(r.chain_cached_ns, r.chain_cached_calls).padStart(20),
        r.ours_over_chain.toFixed(5).padStart(10),
        r.ours_over_chain_cached.toFixed(4).padStart(11),
      ].join("  ")
    );
  }
  console.log(`ours at ${last.entries} / ours at ${first.entries}: ${flat.toFixed(2)}`);
  fs.writeFileSync(
    path.join(dir, "pac.json"),
    JSON.stringify(
      { node: process.version, calls: CALLS, rounds: ROUNDS, results, ours_flatness: flat },
      null,
      2
    ) + "\n"
  );
}

try {
  main();
} catch (e) {
  console.error(`bench-pac: ${e.message}`);
  process.exit(1);
}
