// The gateway's sockets and the machine as the kernel sees them (/proc/net, /proc/stat): what no
// metric of the gateway's own can show.
import { readFileSync } from 'node:fs';

import { increment } from './stats';

export interface TcpState {
  /** Connections the kernel completed that the gateway has not accepted yet (the listening socket's rx_queue). */
  acceptQueue: number;
  /** The listen backlog (tx_queue of the listening socket): past it, new connections wait for SYN retries. */
  backlog: number;
  /** Established connections to the gateway's port (accepted or still queued). */
  established: number;
}

/**
 * The gateway's port as the kernel sees it, from /proc/net/tcp and tcp6: a gateway whose event
 * loop is too busy to accept leaves connections in the accept queue, where no fd of its own counts
 * them and no metric of its own sees them.
 */
export function tcpState(port: number): TcpState | undefined {
  const state: TcpState = { acceptQueue: 0, backlog: 0, established: 0 };
  let seen = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5 || parseInt(fields[1].split(':').pop()!, 16) !== port) continue;
      const [tx, rx] = fields[4].split(':').map((hex) => parseInt(hex, 16));
      if (fields[3] === '0A') {
        seen = true;
        state.acceptQueue += rx;
        state.backlog += tx;
      } else if (fields[3] === '01') state.established++;
    }
  }
  return seen ? state : undefined;
}

/**
 * The kernel's TCP counters that tell of a listener not keeping up (machine-wide: on a machine
 * running only this, the gateway's port): connections dropped because its accept queue was full,
 * SYN cookies sent because the SYN queue was, connections reset by a close with unread data.
 */
export const KERNEL_COUNTERS = [
  'ListenOverflows',
  'ListenDrops',
  'SyncookiesSent',
  'TCPReqQFullDoCookies',
  'TCPAbortOnData',
  'TCPAbortOnClose',
];

export function kernelCounters(): Record<string, number> {
  const counts: Record<string, number> = {};
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const names = lines[i].split(/\s+/);
      const values = lines[i + 1].split(/\s+/);
      if (names[0] !== 'TcpExt:') continue;
      names.forEach((name, j) => {
        if (KERNEL_COUNTERS.includes(name)) counts[name] = Number(values[j]);
      });
    }
  } catch {
    // Not Linux, or no /proc/net: the counters are left out.
  }
  return counts;
}

export const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

/** What a process's sockets are: TCP by state, served (on the gateway's port) or outgoing; or unix/other. */
export function socketStates(inodes: string[], port: number): Record<string, number> {
  const byInode = new Map<string, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const local = parseInt(f[1].split(':').pop()!, 16);
      const role = f[3] === '0A' ? '' : local === port ? ' (served)' : ' (outgoing)';
      byInode.set(f[9], `tcp ${TCP_STATES[f[3]] ?? f[3]}${role}`);
    }
  }
  const counts: Record<string, number> = {};
  for (const inode of inodes) increment(counts, byInode.get(inode) ?? 'unix or other');
  return counts;
}

/** The machine's CPU time, busy and in all, in ticks, from /proc/stat's first line. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const ticks = fields.slice(0, 8).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3] - ticks[4], total };
  } catch {
    return { busy: Number.NaN, total: Number.NaN };
  }
}
