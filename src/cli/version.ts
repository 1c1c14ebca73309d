import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This file's path: `__filename` in the CommonJS build, `import.meta.url` otherwise. */
function here(): string {
  if (typeof __filename === 'string' && __filename !== '') return __filename;
  return fileURLToPath((import.meta as { url: string }).url);
}

/** forestall's version, from the package.json above this file (in dist/ or src/cli/). */
export function packageVersion(): string {
  for (let dir = dirname(here()); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'forestall' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here: look further up.
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
