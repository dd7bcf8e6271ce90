// A bounded client load for the runtime tests: `conns` loops of one-shot TCP exchanges (a new
// connection each) plus `persistent` line clients (one long connection each), running until
// stop(); every answer and every failure is recorded.

import { LineClient, tcpExchange } from '../helpers/clients.ts';

export interface LoadResult {
  answers: string[];
  failures: string[];
}

export function runLoad(port: number, opts: { conns?: number; persistent?: number } = {}) {
  const result: LoadResult = { answers: [], failures: [] };
  let stopping = false;
  let seq = 0;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < (opts.conns ?? 3); i++) {
    loops.push(
      (async () => {
        while (!stopping) {
          const id = `n${seq++}`;
          try {
            const a = await tcpExchange(port, `${id}\n`);
            if (!/^\w+:n\d+\n$/.test(a) || !a.includes(`:${id}\n`)) result.failures.push(`${id}: bad answer ${JSON.stringify(a)}`);
            else result.answers.push(a.trim());
          } catch (e) {
            result.failures.push(`${id}: ${(e as Error).message}`);
          }
        }
      })(),
    );
  }
  for (let i = 0; i < (opts.persistent ?? 2); i++) {
    loops.push(
      (async () => {
        let client: LineClient;
        try {
          client = await LineClient.connect(port);
        } catch (e) {
          result.failures.push(`persistent ${i}: connect: ${(e as Error).message}`);
          return;
        }
        try {
          while (!stopping) {
            const id = `p${i}-${seq++}`;
            try {
              const a = await client.request(id);
              if (!a.endsWith(`:${id}`)) result.failures.push(`${id}: bad answer ${JSON.stringify(a)}`);
              else result.answers.push(a);
            } catch (e) {
              result.failures.push(`${id}: ${(e as Error).message}`);
              return;
            }
            await new Promise((r) => setTimeout(r, 5));
          }
        } finally {
          client.close();
        }
      })(),
    );
  }
  return {
    result,
    async stop(): Promise<LoadResult> {
      stopping = true;
      await Promise.all(loops);
      return result;
    },
  };
}
