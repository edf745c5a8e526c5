#!/usr/bin/env node
// crosscheck.cjs - compare our reader's rows with DuckDB's, hyparquet's and
// parquet-wasm's (arrow-rs compiled to wasm).
//
//   node crosscheck.cjs FILE OURS.jsonl [--sample N] [--readers duckdb,hyparquet,arrow]
//
// OURS.jsonl is `tempo-compactor parquet cat FILE` output (one JSON row per
// line). Every reader's rows are brought into one canonical form (scalars as
// strings, bytes as hex, maps as [{key,value}]) and compared: the TraceID set
// over all rows, and every column of N sampled rows (all rows when N is 0).
// Prints one line per check and exits 1 on the first difference.
'use strict';
const path = require('path');
const { pathToFileURL } = require('url');

function hex(u8) {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');
}

// mapNames: field names whose values are MAP (objects in hyparquet).
function canon(v, mapNames, key) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  // UUIDs: readers print them dashed, we print FIXED_LEN_BYTE_ARRAY as hex
  if (typeof v === 'string') return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v) ? v.replace(/-/g, '') : v;
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map((x) => canon(x, mapNames));
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => ({ key: canon(k, mapNames), value: canon(x, mapNames) }));
  if (typeof v === 'object') {
    if (key && mapNames.has(key)) {
      return Object.entries(v).map(([k, x]) => ({ key: k, value: canon(x, mapNames) }));
    }
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = canon(v[k], mapNames, k);
    return out;
  }
  return String(v);
}

// hyparquet returns null for an empty bare repeated field where DuckDB and
// we return []; that is representation, not data, so it is equated.
let emptyIsNull = false;
function firstDiff(a, b, p) {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (emptyIsNull && Array.isArray(a) && a.length === 0 && b === null) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDiff(a[k], b[k], p + '.' + k);
      if (d) return d;
    }
    return null;
  }
  return `${p}: ours=${JSON.stringify(a)} theirs=${JSON.stringify(b)}`;
}

// Our JSON: numbers may be floats printed with %.17g; canon() through Number.
function canonOurs(v) {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(canonOurs);
  if (typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = canonOurs(v[k]);
    return out;
  }
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v;
}

async function readDuck(file) {
  const { DuckDBInstance } = require('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  const q = `SELECT * FROM read_parquet('${file.replace(/'/g, "''")}')`;
  const r = await c.runAndReadAll(q);
  return r.getRowObjectsJS();
}

async function readHyp(file) {
  const base = (process.env.NODE_PATH || '').split(':')[0];
  const hp = await import(pathToFileURL(path.join(base, 'hyparquet/src/node.js')).href);
  const hc = await import(pathToFileURL(path.join(base, 'hyparquet-compressors/src/index.js')).href);
  const buf = await hp.asyncBufferFromFile(file);
  const meta = await hp.parquetMetadataAsync(buf);
  const mapNames = new Set(meta.schema.filter((e) => e.converted_type === 'MAP' || e.logical_type?.type === 'MAP').map((e) => e.name));
  const rows = await hp.parquetReadObjects({ file: buf, compressors: hc.compressors, utf8: false });
  return { rows, mapNames };
}

async function readArrow(file) {
  const fs = require('fs');
  const pw = require('parquet-wasm/node');
  const arrow = require('apache-arrow');
  const table = arrow.tableFromIPC(pw.readParquet(new Uint8Array(fs.readFileSync(file))).intoIPCStream());
  const rows = [];
  for (let i = 0; i < table.numRows; i++) {
    // toJSON keeps nested vectors; stringify with a replacer makes plain JS
    rows.push(JSON.parse(JSON.stringify(table.get(i).toJSON(), (k, v) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return { __hex: hex(v) };
      return v;
    }), (k, v) => (v && typeof v === 'object' && '__hex' in v ? v.__hex : v)));
  }
  return rows;
}

async function main() {
  const args = process.argv.slice(2);
  const file = args[0];
  const oursPath = args[1];
  let sample = 10;
  let readers = ['duckdb', 'hyparquet', 'arrow'];
  for (let i = 2; i < args.length; i++) {
    if (args[i] === '--sample') sample = Number(args[++i]);
    else if (args[i] === '--readers') readers = args[++i].split(',');
  }
  const fs = require('fs');
  const ours = fs.readFileSync(oursPath, 'utf8').split('\n').filter((l) => l.length).map((l) => canonOurs(JSON.parse(l)));
  let failed = 0;
  for (const name of readers) {
    let theirs;
    if (name === 'duckdb') {
      emptyIsNull = false;
      theirs = (await readDuck(file)).map((r) => canon(r, new Set()));
    } else if (name === 'arrow') {
      emptyIsNull = false;
      const h = await readHyp(file); // only for the MAP field names
      theirs = (await readArrow(file)).map((r) => canon(r, h.mapNames));
    } else {
      emptyIsNull = true;
      const h = await readHyp(file);
      theirs = h.rows.map((r) => canon(r, h.mapNames));
    }
    if (theirs.length !== ours.length) {
      console.log(`FAIL ${name}: rows ours=${ours.length} theirs=${theirs.length}`);
      failed++;
      continue;
    }
    const idsOurs = ours.map((r) => r.TraceID).sort();
    const idsTheirs = theirs.map((r) => r.TraceID).sort();
    if (JSON.stringify(idsOurs) !== JSON.stringify(idsTheirs)) {
      console.log(`FAIL ${name}: TraceID sets differ`);
      failed++;
      continue;
    }
    // sampled rows: spread evenly over the file (all rows when sample is 0)
    const idx = [];
    const n = ours.length;
    if (sample <= 0 || sample >= n) for (let i = 0; i < n; i++) idx.push(i);
    else for (let k = 0; k < sample; k++) idx.push(Math.floor((k * n) / sample + (n / sample) / 2));
    let bad = null;
    for (const i of idx) {
      const d = firstDiff(ours[i], theirs[i], `row ${i}`);
      if (d) { bad = d; break; }
    }
    if (bad) {
      console.log(`FAIL ${name}: ${bad}`);
      failed++;
      continue;
    }
    console.log(`OK ${name}: rows=${n} ids=${idsOurs.length} compared_rows=${idx.length}`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log('FAIL exception: ' + (e && e.stack || e)); process.exit(2); });
