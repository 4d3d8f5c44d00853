import { parseArgs } from 'node:util';
import {
  loadEnvoyProtos,
  validateEnvoyFile,
  validateRateLimitFile,
  type ValidationError,
} from '../services/gateway/src/envoy/validate';

/**
 * `npm run lint:envoy [-- FILE...] [--ratelimit FILE]` checks Envoy configs (default
 * envoy/envoy.yaml) against Envoy's API protos, standing in for `envoy --mode validate`, and the
 * rate limit service config (default envoy/ratelimit/config.yaml). Exits 1 on any error.
 */
function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { ratelimit: { type: 'string', multiple: true, default: ['envoy/ratelimit/config.yaml'] } },
  });
  const envoyFiles = positionals.length ? positionals : ['envoy/envoy.yaml'];

  const started = Date.now();
  loadEnvoyProtos();
  const loadSeconds = (Date.now() - started) / 1000;

  let errorCount = 0;
  let warningCount = 0;
  const print = (file: string, kind: 'error' | 'warning', issues: ValidationError[]) => {
    for (const e of issues) {
      const where = e.line ? `${file}:${e.line}:${e.column ?? 1}` : file;
      console.error(`${where}: ${kind}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
    }
  };
  const report = (file: string, errors: ValidationError[], warnings: ValidationError[] = []) => {
    print(file, 'error', errors);
    print(file, 'warning', warnings);
    errorCount += errors.length;
    warningCount += warnings.length;
  };

  for (const file of envoyFiles) {
    const warnings: ValidationError[] = [];
    report(file, validateEnvoyFile(file, { warnings }), warnings);
  }
  for (const file of values.ratelimit ?? []) report(file, validateRateLimitFile(file));

  const files = [...envoyFiles, ...(values.ratelimit ?? [])].join(', ');
  if (errorCount) {
    console.error(`${errorCount} error${errorCount === 1 ? '' : 's'} in ${files}`);
    return 1;
  }
  const warned = warningCount ? `, ${warningCount} warning${warningCount === 1 ? '' : 's'}` : '';
  console.log(`OK: ${files} valid against Envoy's v3 API protos (loaded in ${loadSeconds.toFixed(1)} s)${warned}`);
  return 0;
}

process.exitCode = main();
