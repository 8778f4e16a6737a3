/**
 * `npm run jepsen:report -- DIR...`: (re)writes DIR/report.html from the run's history.jsonl,
 * nemesis.jsonl and results.json, e.g. after the report generator changed.
 * (Node 20 has no TypeScript loader; the npm script loads this file through Vite's module runner.)
 */
import { renderRunDir } from './render.js';

const dirs = process.argv.slice(1).filter((a) => a !== '--' && !a.startsWith('-'));
if (dirs.length === 0) {
  console.error('Usage: npm run jepsen:report -- RUN_DIR [RUN_DIR...]');
  process.exitCode = 2;
}
for (const dir of dirs) {
  const out = renderRunDir(dir);
  const skipped = out.badLines > 0 ? ` (${out.badLines} unparsable lines skipped)` : '';
  console.log(`${out.path}: ${(out.bytes / 1e6).toFixed(2)} MB${skipped}`);
}
