/* The reference tools the anchors need (wrk, nginx with the echo module,
 * iperf3, taskset): found, or installed with apt-get when running as root,
 * or named with the command that installs them. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const ECHO_MODULE = '/usr/lib/nginx/modules/ngx_http_echo_module.so';
const POLICY_RC_D = '/usr/sbin/policy-rc.d';

interface Need {
  what: string;
  present: () => boolean;
  /* Debian packages, first the preferred one that has an install candidate. */
  packages: string[];
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8', timeout: 5000 }).status === 0;
}

function hasCandidate(pkg: string): boolean {
  const r = spawnSync('apt-cache', ['policy', pkg], { encoding: 'utf8', timeout: 30000 });
  const m = /Candidate:\s*(\S+)/.exec(r.stdout ?? '');
  return !!m && m[1] !== '(none)';
}

export function needs(anchors: Set<string>): Need[] {
  const out: Need[] = [{ what: 'taskset', present: () => have('taskset'), packages: ['util-linux'] }];
  if (anchors.has('http-client') || anchors.has('http-server')) {
    out.push({ what: 'wrk', present: () => have('wrk'), packages: ['wrk'] });
    // nginx-light is bookworm's small nginx (and pulls the echo module); later releases ship plain "nginx".
    out.push({ what: 'nginx', present: () => have('nginx') || fs.existsSync('/usr/sbin/nginx'), packages: ['nginx-light', 'nginx'] });
    out.push({ what: 'nginx echo module', present: () => fs.existsSync(ECHO_MODULE), packages: ['libnginx-mod-http-echo'] });
  }
  if (anchors.has('bulk')) out.push({ what: 'iperf3', present: () => have('iperf3'), packages: ['iperf3'] });
  return out;
}

function aptInstall(pkgs: string[], log: (s: string) => void): boolean {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => {
    log(`$ apt-get ${args.join(' ')}`);
    return spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 }).status === 0;
  };
  // Installing nginx must not start the system's nginx service (port 80): an
  // invoke-rc.d policy that refuses service starts, only for this install and
  // only if the host has none of its own.
  const ownPolicy = !fs.existsSync(POLICY_RC_D);
  if (ownPolicy) fs.writeFileSync(POLICY_RC_D, '#!/bin/sh\n# muxbench anchors: no service starts during this apt-get install\nexit 101\n', { mode: 0o755 });
  try {
    const args = ['install', '-y', '-q', '--no-install-recommends', ...pkgs];
    if (run(args)) return true;
    return run(['update', '-q']) && run(args);
  } finally {
    if (ownPolicy) fs.rmSync(POLICY_RC_D, { force: true });
  }
}

/* Returns null when everything is there (after installing, as root), else
 * the message saying what to install. */
export function ensureTools(anchors: Set<string>, install: boolean, log: (s: string) => void): string | null {
  let missing = needs(anchors).filter((n) => !n.present());
  if (missing.length === 0) return null;
  const isRoot = process.getuid?.() === 0;
  const canApt = have('apt-get');
  const pick = (n: Need) => (canApt ? (n.packages.find(hasCandidate) ?? n.packages[0]) : n.packages[0]);
  let pkgs = [...new Set(missing.map(pick))];
  if (isRoot && canApt && install) {
    log(`installing ${pkgs.join(' ')} (missing: ${missing.map((n) => n.what).join(', ')})`);
    aptInstall(pkgs, log);
    missing = missing.filter((n) => !n.present());
    if (missing.length === 0) return null;
    pkgs = [...new Set(missing.map(pick))];
  }
  return (
    `missing: ${missing.map((n) => n.what).join(', ')}. Install with:\n` +
    `  ${isRoot ? '' : 'sudo '}apt-get install ${pkgs.join(' ')}\n` +
    (isRoot && !install ? '(or run without --no-install)\n' : '')
  );
}

export function versionOf(argv: string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 5000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return text || 'unknown';
}
