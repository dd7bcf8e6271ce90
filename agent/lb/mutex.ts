// Per-key serialisation. Octavia's agent handles one request at a time (one sync gunicorn
// worker); ours is concurrent, so everything that changes one LB (upload, start/stop/reload,
// delete, its certificates, a supervisor restart) runs under that LB's key, in arrival order.

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `fn` once every earlier holder of `key` has finished. Not reentrant. */
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
