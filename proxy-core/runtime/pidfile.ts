// The pid file: written atomically (temp file + rename, so a reader never sees it half
// written) and removed on exit only while it still holds our pid — a process started with
// `-sf`/`-st` over us may already have written its own.

import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';

export function writePidFile(path: string, pid = process.pid): void {
  const tmp = join(dirname(path), `.${basename(path)}.${pid}.tmp`);
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  try {
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
}

/** Remove the pid file if it names `pid`; never throws. */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
  } catch {}
}
