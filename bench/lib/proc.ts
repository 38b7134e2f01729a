// What a process uses, read from /proc (Linux): CPU time, memory, descriptors.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

let clockTicks: number | undefined;
/** User + system CPU time of a process and all its threads, in ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  // Fields after the command name (which may hold spaces, inside parentheses): utime is the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/**
 * Resident memory of a process now and at its peak (VmRSS, VmHWM), the anonymous part of it
 * (RssAnon: what it allocated) and the file-backed part (RssFile: mapped files' pages, such as a
 * memory-mapped database, which the kernel may drop), in bytes, and its thread count, from
 * /proc/<pid>/status (Linux).
 */
export function processMemory(pid: number): {
  rssBytes: number;
  peakRssBytes: number;
  anonBytes: number;
  fileBytes: number;
  threads: number;
} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return {
    rssBytes: field('VmRSS') * 1024,
    peakRssBytes: field('VmHWM') * 1024,
    anonBytes: field('RssAnon') * 1024,
    fileBytes: field('RssFile') * 1024,
    threads: field('Threads'),
  };
}

/** Open file descriptors of a process, how many of them are sockets, and those sockets' inodes (to look up in /proc/net/*), from /proc/<pid>/fd (Linux). */
export function openFds(pid: number): { fds: number; sockets: number; socketInodes: string[] } {
  const socketInodes: string[] = [];
  const entries = readdirSync(`/proc/${pid}/fd`);
  for (const fd of entries) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('socket:[')) socketInodes.push(target.slice('socket:['.length, -1));
    } catch {
      // Closed between the listing and the read: no longer open.
    }
  }
  return { fds: entries.length, sockets: socketInodes.length, socketInodes };
}
