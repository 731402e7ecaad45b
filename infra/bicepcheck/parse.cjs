#!/usr/bin/env node
// Syntax check of Bicep files with the tree-sitter Bicep grammar.
//
//   node infra/bicepcheck/parse.cjs FILE.bicep...
//
// Prints "FILE: ok" per clean file, and "FILE:LINE:COL: syntax error near ..."
// (or "missing X") per error; exits 1 when any file has an error, 2 when the
// tools are not installed (`make bicep-tools` installs them into
// .tools/bicep; NODE_PATH points there). A parse is what CI can do without
// the Bicep compiler: types, scopes, API versions and property names need
// `az bicep build` or `azd provision --preview`.
'use strict';
const fs = require('fs');

let Parser;
let wasm;
try {
  Parser = require('web-tree-sitter');
  wasm = require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');
} catch (e) {
  console.error(`bicepcheck: the parser is not installed (${e.code || e.message}); run: make bicep-tools`);
  process.exit(2);
}

function errors(node, out) {
  if (node.type === 'ERROR' || node.isMissing) {
    out.push(node);
    return out;
  }
  if (node.hasError) {
    for (const child of node.children) errors(child, out);
  }
  return out;
}

(async () => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: parse.cjs FILE.bicep...');
    process.exit(2);
  }
  await Parser.init();
  const parser = new Parser();
  parser.setLanguage(await Parser.Language.load(wasm));
  let bad = 0;
  for (const file of files) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      console.log(`${file}: cannot read: ${e.message}`);
      bad++;
      continue;
    }
    const found = errors(parser.parse(text).rootNode, []);
    for (const n of found) {
      const at = `${file}:${n.startPosition.row + 1}:${n.startPosition.column + 1}`;
      const near = JSON.stringify(n.text.split('\n')[0].slice(0, 60));
      console.log(n.isMissing ? `${at}: syntax error: missing ${n.type}` : `${at}: syntax error near ${near}`);
    }
    if (found.length > 0) bad++;
    else console.log(`${file}: ok`);
  }
  process.exit(bad > 0 ? 1 : 0);
})().catch((e) => {
  console.error(`bicepcheck: ${e.stack || e}`);
  process.exit(2);
});
