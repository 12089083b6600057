// Prints the node_modules folders that the named packages need at run time (their dependency
// closure, resolved the way Node resolves from the project root), one per line.
const fs = require('fs'),
  path = require('path');
const root = process.argv[2],
  names = process.argv.slice(3);
const seen = new Set();
function resolveDir(name, from) {
  let dir = from;
  for (;;) {
    const p = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(p, 'package.json'))) return p;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}
function walk(name, from) {
  const dir = resolveDir(name, from);
  if (!dir || seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const d of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) walk(d, dir);
}
for (const n of names) walk(n, root);
for (const d of seen) console.log(path.relative(root, d));
