// `npm run db` (scripts/db.ts) for the crash harness, unchanged but for one thing: it stops when the harness's
// stdin pipe closes, so a harness that dies leaves no database process behind.
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
await import('../../scripts/db.js');
