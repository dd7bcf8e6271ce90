// Writes that never leave a half-written file behind: the bytes go to a temporary file in the
// same directory, are fsynced, then renamed over the target (rename is atomic within a file
// system), and the directory is fsynced so the rename survives a power cut.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Atomically replace `path` with `data` (file mode `mode`, default 0600). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await writeAndSync(tmp, data, mode);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
}

/** Write `path` (created or truncated) and fsync it; on error the file is removed. */
export async function writeAndSync(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const fh = await open(path, 'w', mode);
  let ok = false;
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // open() honours the umask and leaves an existing file's mode alone
    await fh.sync();
    ok = true;
  } finally {
    await fh.close().catch(() => {});
    if (!ok) await unlink(path).catch(() => {});
  }
}

/** Atomically rename `from` to `to` and make it durable. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncDir(dirname(to));
}

/** fsync a directory so renames/unlinks in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** mkdir -p with a mode for the directories it creates. */
export async function ensureDir(dir: string, mode = 0o755): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
}
