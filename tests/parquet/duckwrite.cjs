#!/usr/bin/env node
// duckwrite.cjs - write Parquet files with DuckDB (an independent writer) to
// cover encodings and codecs our own writer does not produce: data page v1
// and v2, PLAIN_DICTIONARY/RLE_DICTIONARY, DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT, RLE
// booleans, FIXED_LEN_BYTE_ARRAY (UUID), and UNCOMPRESSED/SNAPPY/GZIP/ZSTD,
// over nested lists, structs, maps and nulls.
//
//   node duckwrite.cjs OUTDIR      prints one file name per line
//   (DUCK_ROWS=N sets the row count, default 3000; fuzz seeds use a few)
'use strict';
const path = require('path');
const { DuckDBInstance } = require('@duckdb/node-api');

const SELECT = `
SELECT
  i::INTEGER AS id,
  (i * 7919)::BIGINT - 50000 AS big,
  (i % 5)::TINYINT AS tiny,
  (i * 2654435761 % 4294967296)::UBIGINT AS ubig,
  CASE WHEN i % 11 = 0 THEN NULL ELSE i / 3.0 END::DOUBLE AS dbl,
  (i / 7.0)::FLOAT AS flt,
  i % 3 = 0 AS flag,
  CASE WHEN i % 13 = 0 THEN NULL ELSE 'svc-' || (i % 17)::VARCHAR END AS dictstr,
  'unique-' || i::VARCHAR || repeat('x', i % 40) AS plainstr,
  ('prefix/shared/path/' || (i // 10)::VARCHAR || '/' || i::VARCHAR) AS prefixed,
  encode('blob' || i::VARCHAR)::BLOB AS bin,
  CASE WHEN i % 7 = 0 THEN NULL ELSE md5(i::VARCHAR)::UUID END AS uid,
  CASE WHEN i % 9 = 0 THEN NULL WHEN i % 4 = 0 THEN [] ELSE range(i % 6)::BIGINT[] END AS ints,
  CASE WHEN i % 5 = 0 THEN [NULL, 'a'] ELSE ['x' || (i % 3)::VARCHAR, 'y'] END AS strs,
  {'name': 'n' || (i % 4)::VARCHAR, 'count': i % 100, 'inner': {'ok': i % 2 = 0, 'tags': ['t1', 't' || (i%5)::VARCHAR]}} AS st,
  CASE WHEN i % 6 = 0 THEN NULL ELSE MAP {('k' || (i % 3)::VARCHAR): i, 'z': -i} END AS mp,
  [{'a': i, 'b': CASE WHEN i % 2 = 0 THEN NULL ELSE 'b' || i::VARCHAR END}, {'a': -i, 'b': 'q'}] AS los
FROM range(${Number(process.env.DUCK_ROWS || 3000)}) t(i)`;

async function main() {
  const out = process.argv[2];
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await db.connect();
  const files = [];
  for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd']) {
    for (const ver of ['V1', 'V2']) {
      const f = path.join(out, `duck_${codec}_${ver}.parquet`);
      await c.run(`COPY (${SELECT}) TO '${f}' (FORMAT parquet, COMPRESSION ${codec}, PARQUET_VERSION ${ver}, ROW_GROUP_SIZE 1024)`);
      files.push(f);
    }
  }
  console.log(files.join('\n'));
}

main().catch((e) => { console.error(e); process.exit(1); });
