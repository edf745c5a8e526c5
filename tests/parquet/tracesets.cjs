#!/usr/bin/env node
// tracesets.cjs - what independent readers see in vParquet4 files: the
// TraceID of every row in file order and every (TraceID, SpanID) pair, as
// read by DuckDB and by hyparquet (neither is the project's reader).
//
//   node tracesets.cjs FILE... [--readers duckdb,hyparquet]
//
// Prints one JSON object per reader and file:
//   {"reader":"duckdb","file":F,"rows":N,"row_groups":G,"rg_rows":[rows per group],
//    "ids":[hex...],"pairs":["tid spanid",...]}
// IDs are lowercase hex; pairs are sorted. Exits 1 when a reader fails.
'use strict';
const path = require('path');
const { pathToFileURL } = require('url');

function hex(u8) {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');
}

async function duck(files) {
  const { DuckDBInstance } = require('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  const out = [];
  for (const f of files) {
    const q = f.replace(/'/g, "''");
    const ids = (await c.runAndReadAll(
      `SELECT lower(hex(TraceID)) FROM read_parquet('${q}', file_row_number = true) ORDER BY file_row_number`)).getRows().map((r) => r[0]);
    // rs -> ss -> Spans, unnested level by level
    const pairs = (await c.runAndReadAll(
      `SELECT lower(hex(t)) || ' ' || lower(hex(sp.SpanID)) FROM (
         SELECT t, unnest(s.Spans) AS sp FROM (
           SELECT t, unnest(r.ss) AS s FROM (
             SELECT TraceID AS t, unnest(rs) AS r FROM read_parquet('${q}'))))`)).getRows().map((r) => r[0]);
    const rg = (await c.runAndReadAll(
      `SELECT row_group_id, any_value(row_group_num_rows) FROM parquet_metadata('${q}') GROUP BY 1 ORDER BY 1`)).getRows();
    out.push({ reader: 'duckdb', file: f, rows: ids.length, row_groups: rg.length, rg_rows: rg.map((r) => Number(r[1])), ids, pairs: pairs.sort() });
  }
  return out;
}

async function hyp(files) {
  const base = (process.env.NODE_PATH || '').split(':')[0];
  const hp = await import(pathToFileURL(path.join(base, 'hyparquet/src/node.js')).href);
  const hc = await import(pathToFileURL(path.join(base, 'hyparquet-compressors/src/index.js')).href);
  const out = [];
  for (const f of files) {
    const buf = await hp.asyncBufferFromFile(f);
    const meta = await hp.parquetMetadataAsync(buf);
    const rows = await hp.parquetReadObjects({ file: buf, columns: ['TraceID', 'rs'], compressors: hc.compressors, utf8: false });
    const ids = [];
    const pairs = [];
    for (const row of rows) {
      const t = hex(row.TraceID);
      ids.push(t);
      for (const r of row.rs || []) {
        for (const s of r.ss || []) {
          for (const sp of s.Spans || []) pairs.push(t + ' ' + hex(sp.SpanID));
        }
      }
    }
    out.push({ reader: 'hyparquet', file: f, rows: ids.length, row_groups: meta.row_groups.length, rg_rows: meta.row_groups.map((g) => Number(g.num_rows)), ids, pairs: pairs.sort() });
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  let readers = ['duckdb', 'hyparquet'];
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--readers') readers = args[++i].split(',');
    else files.push(path.resolve(args[i]));
  }
  for (const r of readers) {
    const res = r === 'duckdb' ? await duck(files) : await hyp(files);
    for (const o of res) process.stdout.write(JSON.stringify(o) + '\n');
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
