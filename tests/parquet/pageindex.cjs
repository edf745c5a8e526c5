#!/usr/bin/env node
// pageindex.cjs - check a file's page indexes and statistics with hyparquet
// (an independent thrift and value decoder):
//  - offset index: pages tile the column chunk exactly (first page at the
//    data page offset, each page right after the previous one, the last one
//    ending at the chunk end), first_row_index starts at 0 and ascends;
//  - column index: one entry per page; for top-level columns the bounds
//    and null counts equal the min/max/nulls of the rows each page covers,
//    as read by hyparquet; the boundary order holds;
//  - chunk statistics: min/max equal the row group's values.
//
//   node pageindex.cjs FILE        prints a summary, exits 1 on a mismatch
'use strict';
const path = require('path');
const { pathToFileURL } = require('url');

// index and statistics bytes stay raw (see RAW); row strings become UTF-8
const RAW = { stringFromBytes: (b) => b };
function norm(v) {
  return typeof v === 'string' ? new Uint8Array(Buffer.from(v, 'utf8')) : v;
}

function cmp(a, b) {
  a = norm(a);
  b = norm(b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function show(v) {
  v = norm(v);
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v);
}

async function main() {
  const file = process.argv[2];
  const base = (process.env.NODE_PATH || '').split(':')[0];
  const hp = await import(pathToFileURL(path.join(base, 'hyparquet/src/node.js')).href);
  const hc = await import(pathToFileURL(path.join(base, 'hyparquet-compressors/src/index.js')).href);
  const fs = require('fs');
  const bytes = fs.readFileSync(file);
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const meta = hp.parquetMetadata(ab, { parsers: RAW });
  const rows = await hp.parquetReadObjects({ file: ab, compressors: hc.compressors, utf8: false });
  const leaves = meta.schema.filter((e) => e.num_children === undefined || e.num_children === 0).slice(0);
  let errors = 0, pages = 0, checkedPages = 0, chunks = 0;
  const bad = (m) => { errors++; if (errors < 10) console.log('FAIL ' + m); };
  let rowStart = 0;
  meta.row_groups.forEach((rg, g) => {
    const nrows = Number(rg.num_rows);
    rg.columns.forEach((cc, c) => {
      const md = cc.meta_data;
      const colpath = md.path_in_schema;
      if (cc.offset_index_offset === undefined) { bad(`rg ${g} ${colpath}: no offset index`); return; }
      chunks++;
      const oiView = { view: new DataView(ab, Number(cc.offset_index_offset), cc.offset_index_length), offset: 0 };
      const oi = hp.readOffsetIndex(oiView);
      const locs = oi.page_locations;
      const start = Number(md.dictionary_page_offset ?? md.data_page_offset);
      const end = start + Number(md.total_compressed_size);
      if (Number(locs[0].offset) !== Number(md.data_page_offset)) bad(`rg ${g} ${colpath}: first page ${locs[0].offset} != data_page_offset ${md.data_page_offset}`);
      for (let i = 0; i < locs.length; i++) {
        const o = Number(locs[i].offset), sz = locs[i].compressed_page_size;
        const next = i + 1 < locs.length ? Number(locs[i + 1].offset) : end;
        if (o + sz !== next) bad(`rg ${g} ${colpath}: page ${i} ends at ${o + sz}, next starts ${next}`);
        const fr = Number(locs[i].first_row_index);
        if (i === 0 ? fr !== 0 : fr <= Number(locs[i - 1].first_row_index)) bad(`rg ${g} ${colpath}: first_row_index ${fr} at page ${i}`);
        if (fr >= nrows) bad(`rg ${g} ${colpath}: first_row_index ${fr} beyond ${nrows} rows`);
      }
      pages += locs.length;
      const leaf = meta.schema.find((e) => e.name === colpath[colpath.length - 1] && colpath.length === 1) ||
        leaves.find((e) => e.name === colpath[colpath.length - 1]);
      const ciView = { view: new DataView(ab, Number(cc.column_index_offset), cc.column_index_length), offset: 0 };
      const ci = hp.readColumnIndex(ciView, leaf, RAW);
      if (ci.null_pages.length !== locs.length || ci.min_values.length !== locs.length) bad(`rg ${g} ${colpath}: column index has ${ci.null_pages.length} pages, offset index ${locs.length}`);
      if (colpath.length !== 1) return; // value checks for top-level columns
      const name = colpath[0];
      let cmin, cmax;
      for (let i = 0; i < locs.length; i++) {
        const r0 = Number(locs[i].first_row_index);
        const r1 = i + 1 < locs.length ? Number(locs[i + 1].first_row_index) : nrows;
        let mn, mx, nulls = 0;
        for (let r = rowStart + r0; r < rowStart + r1; r++) {
          const v = rows[r][name];
          if (v === null || v === undefined) { nulls++; continue; }
          if (mn === undefined || cmp(v, mn) < 0) mn = v;
          if (mx === undefined || cmp(v, mx) > 0) mx = v;
        }
        // byte arrays are cut to 16 bytes in the index (max rounded up)
        const cut = (v) => { v = norm(v); return v instanceof Uint8Array && v.length > 16 ? v.slice(0, 16) : v; };
        if (mn !== undefined && cmp(cut(mn), ci.min_values[i]) !== 0) bad(`rg ${g} ${name} page ${i}: min ${show(ci.min_values[i])} want ${show(mn)}`);
        if (mx !== undefined && cmp(ci.max_values[i], cut(mx)) < 0) bad(`rg ${g} ${name} page ${i}: max ${show(ci.max_values[i])} below ${show(mx)}`);
        if (Number(ci.null_counts[i]) !== nulls) bad(`rg ${g} ${name} page ${i}: null_count ${ci.null_counts[i]} want ${nulls}`);
        if (ci.null_pages[i] !== (mn === undefined)) bad(`rg ${g} ${name} page ${i}: null_pages wrong`);
        if (mn !== undefined) {
          if (cmin === undefined || cmp(mn, cmin) < 0) cmin = mn;
          if (cmax === undefined || cmp(mx, cmax) > 0) cmax = mx;
        }
        checkedPages++;
      }
      const st = md.statistics || {};
      if (cmin !== undefined && (cmp(st.min_value, cmin) !== 0 || cmp(st.max_value, cmax) !== 0)) bad(`rg ${g} ${name}: chunk stats ${show(st.min_value)}..${show(st.max_value)} want ${show(cmin)}..${show(cmax)}`);
      if (ci.boundary_order === 'ASCENDING') {
        for (let i = 1; i < locs.length; i++) if (cmp(ci.min_values[i], ci.min_values[i - 1]) < 0) bad(`rg ${g} ${name}: ASCENDING but page ${i} min drops`);
      }
    });
    rowStart += nrows;
  });
  console.log(`${errors ? 'FAIL' : 'OK'} page index: ${meta.row_groups.length} row groups, ${chunks} chunks, ${pages} pages, ${checkedPages} pages value-checked, ${errors} errors`);
  process.exit(errors ? 1 : 0);
}

main().catch((e) => { console.log('FAIL exception: ' + (e && e.stack || e)); process.exit(2); });
