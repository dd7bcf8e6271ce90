// `user` / `group` from the global section: the identity proxy-core runs as once it serves.
//
// HAProxy drops root for good in its workers and keeps a root master that re-executes on
// reload. proxy-core reloads in place (same process, same listening sockets), and a reload
// must still read the root-only haproxy.cfg Octavia writes (mode 0600) and may bind a port
// below 1024. So only the *effective* ids are switched (setegid/seteuid; the saved ids stay
// root): every thread then works as the configured user, and the supervisor takes root back
// for the few moments a reload reads files and opens binds, and at exit to remove its files.
// Not running as root, it cannot switch: a warning, and it goes on (the brief's choice; HAProxy
// would refuse to start).

import * as log from './log.ts';

export class Privileges {
  readonly #user: string | undefined;
  readonly #group: string | undefined;
  #dropped = false;
  #savedGroups: number[] = [];

  constructor(user: string | undefined, group: string | undefined) {
    this.#user = user;
    this.#group = group;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Switch to the configured ids. Returns a warning text when that is not possible. */
  drop(): string | undefined {
    if (this.#user === undefined && this.#group === undefined) return undefined;
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      const what = [this.#user && `user '${this.#user}'`, this.#group && `group '${this.#group}'`].filter(Boolean).join(' and ');
      return `cannot switch to ${what}: not running as root; going on as uid ${process.getuid?.()}`;
    }
    const group = idOrName(this.#group);
    const user = idOrName(this.#user);
    try {
      this.#savedGroups = process.getgroups!();
      if (group !== undefined) {
        process.setgroups!([group]);
        process.setegid!(group);
      }
      if (user !== undefined) process.seteuid!(user);
      this.#dropped = true;
      return undefined;
    } catch (err) {
      this.#regain();
      throw new Error(`cannot switch to user/group ${this.#user ?? '-'}/${this.#group ?? '-'}: ${log.errorText(err)}`);
    }
  }

  /** Run `fn` with root's effective ids, then switch back (no-op when nothing was dropped). */
  async asRoot<T>(fn: () => Promise<T> | T): Promise<T> {
    if (!this.#dropped) return fn();
    this.#regain();
    try {
      return await fn();
    } finally {
      this.drop();
    }
  }

  /** Take root back for good (exit: remove files root created). */
  restore(): void {
    if (this.#dropped) this.#regain();
  }

  #regain(): void {
    try {
      process.seteuid!(0);
      process.setegid!(0);
      if (this.#savedGroups.length) process.setgroups!(this.#savedGroups);
    } catch {}
    this.#dropped = false;
  }
}

/** Numeric ids as numbers; names are resolved by the system calls. */
function idOrName(v: string | undefined): string | number | undefined {
  if (v === undefined) return undefined;
  return /^\d+$/.test(v) ? Number(v) : v;
}
