// Child processes for the end-to-end tests: our binaries print `listening HOST:PORT` (the
// gateway also `admin HOST:PORT`) once bound; we wait for those lines, never sleep.
import { spawn } from 'node:child_process';

const START_TIMEOUT_MS = 20_000;

// Starts `argv` and resolves once it printed `want` ready lines (`listening`/`admin`), with the
// child and the addresses it printed. Rejects on early exit or after START_TIMEOUT_MS.
export function startProcess(argv, want) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  return new Promise((resolve, reject) => {
    const ready = { child, listening: [], admin: null, stderr: () => stderr };
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv[0]} not ready in ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    const onExit = (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]} exited early (${code ?? sig}): ${stderr}`));
    };
    child.once('exit', onExit);
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [word, addr] = buf.slice(0, nl).trim().split(/\s+/);
        buf = buf.slice(nl + 1);
        if (word === 'listening') ready.listening.push(addr);
        if (word === 'admin') ready.admin = addr;
      }
      if (ready.listening.length + (ready.admin ? 1 : 0) >= want) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(ready);
      }
    });
  });
}

export function stopProcess(proc) {
  if (proc && proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGKILL');
  }
}
