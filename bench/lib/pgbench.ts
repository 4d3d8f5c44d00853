import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchConfig } from './config';

export interface PgbenchResult {
  tps: number;
  latencyAvgMs: number;
  transactions: number;
  failed: number;
  clients: number;
  threads: number;
  seconds: number;
  script: string;
  command: string;
}

/**
 * The hot-row reference: pgbench clients that each lock the scenario's hottest
 * section row and update it, one transaction per request, as fast as PostgreSQL
 * commits them. This is the ceiling of "one transaction per decision" on this
 * machine, with no application in the way.
 */
export function runPgbench(opts: { databaseUrl: string; sectionId: string; clients: number; threads: number; seconds: number; dir: string }): Promise<PgbenchResult> {
  const script = [
    'BEGIN;',
    `SELECT id, enrolled_count, waitlisted_count FROM course.sections WHERE id = '${opts.sectionId}' FOR UPDATE;`,
    `UPDATE course.sections SET updated_at = now() WHERE id = '${opts.sectionId}';`,
    'COMMIT;',
    '',
  ].join('\n');
  const file = join(opts.dir, 'pgbench-hot-row.sql');
  writeFileSync(file, script);
  const args = ['-n', '-c', String(opts.clients), '-j', String(opts.threads), '-T', String(opts.seconds), '-f', file, opts.databaseUrl];
  return new Promise((resolve, reject) => {
    execFile(benchConfig.pgbenchBinary, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`pgbench failed: ${err.message}\n${stderr}`));
        return;
      }
      const num = (re: RegExp) => {
        const m = re.exec(stdout);
        return m ? Number(m[1]) : NaN;
      };
      const tps = num(/tps = ([\d.]+) \(without initial connection time\)/);
      if (!Number.isFinite(tps)) {
        reject(new Error(`could not read tps from pgbench output:\n${stdout}\n${stderr}`));
        return;
      }
      resolve({
        tps,
        latencyAvgMs: num(/latency average = ([\d.]+) ms/),
        transactions: num(/number of transactions actually processed: (\d+)/),
        failed: num(/number of failed transactions: (\d+)/) || 0,
        clients: opts.clients,
        threads: opts.threads,
        seconds: opts.seconds,
        script,
        command: `pgbench ${args.join(' ')}`,
      });
    });
  });
}
