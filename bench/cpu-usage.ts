// CPU time of the bench's processes (API instances, database, load generator) read from /proc, to show where a
// variant's time goes; on systems without /proc the figures are simply absent.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU milliseconds of one process so far, or undefined when /proc cannot be read. */
function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ")"; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

export interface CpuGroups {
  instances: number[];
  db?: number;
}

export interface CpuSpent {
  /** CPU ms of all API instances together. */
  instancesMs?: number;
  dbMs?: number;
  /** CPU ms of this process (the load generator, and the driver variant's own work). */
  loadMs: number;
}

/** Starts a measurement; the returned function gives the CPU each group spent since. */
export function startCpuMeter(groups: CpuGroups): () => CpuSpent {
  const sum = (pids: number[]) => {
    const values = pids.map(processCpuMs);
    return values.some((v) => v === undefined) ? undefined : values.reduce((a, b) => a! + b!, 0)!;
  };
  const instances0 = sum(groups.instances);
  const db0 = groups.db === undefined ? undefined : processCpuMs(groups.db);
  const self0 = process.cpuUsage();
  return () => {
    const instances1 = sum(groups.instances);
    const db1 = groups.db === undefined ? undefined : processCpuMs(groups.db);
    const self = process.cpuUsage(self0);
    return {
      instancesMs: instances0 === undefined || instances1 === undefined ? undefined : instances1 - instances0,
      dbMs: db0 === undefined || db1 === undefined ? undefined : db1 - db0,
      loadMs: (self.user + self.system) / 1000,
    };
  };
}
