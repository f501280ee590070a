import net from 'node:net';
import { once } from 'node:events';

/**
 * A loopback TCP proxy that puts network faults between a role and Redis or Postgres:
 * latency on every chunk, connections reset on demand, and outages during which nothing gets
 * through. Hand-written on node:net because the npm TCP proxies only pipe bytes, and
 * toxiproxy needs a server binary that CI does not have.
 */

interface Direction {
  queue: { due: number; chunk: Buffer }[];
  timer: NodeJS.Timeout | undefined;
  ended: boolean;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
  toUpstream: Direction;
  toClient: Direction;
  /** Opened or alive during an outage: reset when the outage ends, as a peer that gave up on it would be. */
  doomed: boolean;
}

export interface FaultProxy {
  /** The loopback port roles connect to instead of the service's. */
  port: number;
  /** Every chunk waits `latencyMs` plus up to `jitterMs` (uniform), in order. */
  setLatency(latencyMs: number, jitterMs?: number): void;
  /** Resets (TCP RST) every open connection, or the given share of them picked at random; returns how many. */
  reset(share?: number): number;
  /**
   * Nothing passes for `ms`: open connections stall (reads paused, queued chunks dropped) and
   * new ones are accepted but never reach the service. When it ends, each of those connections
   * is reset, and connections opened afterwards work again.
   */
  outage(ms: number): Promise<void>;
  inOutage(): boolean;
  /** Connections currently open through the proxy. */
  connections(): number;
  /** Connections accepted since the proxy started. */
  accepted(): number;
  close(): Promise<void>;
}

function newDirection(): Direction {
  return { queue: [], timer: undefined, ended: false };
}

/** Starts a proxy on a free loopback port in front of `target`. */
export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  let latencyMs = 0;
  let jitterMs = 0;
  let outageUntil: number | undefined;
  let acceptedCount = 0;

  const inOutage = () => outageUntil !== undefined;

  const destroy = (pair: Pair, reset: boolean) => {
    if (!pairs.delete(pair)) return;
    for (const direction of [pair.toUpstream, pair.toClient]) clearTimeout(direction.timer);
    for (const socket of [pair.client, pair.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  /** Writes what is due in order; one timer per direction keeps chunks from overtaking each other. */
  const drain = (pair: Pair, direction: Direction, to: net.Socket) => {
    direction.timer = undefined;
    const now = Date.now();
    while (direction.queue.length > 0 && direction.queue[0]!.due <= now) {
      const { chunk } = direction.queue.shift()!;
      if (!to.destroyed) to.write(chunk);
    }
    if (direction.queue.length > 0) {
      direction.timer = setTimeout(() => drain(pair, direction, to), direction.queue[0]!.due - now);
    } else if (direction.ended && !to.destroyed) {
      to.end();
    }
  };

  const relay = (pair: Pair, from: net.Socket, to: net.Socket, direction: Direction) => {
    from.on('data', (chunk: Buffer) => {
      if (pair.doomed) return;
      const last = direction.queue.at(-1)?.due ?? 0;
      const due = Math.max(Date.now() + latencyMs + Math.random() * jitterMs, last);
      direction.queue.push({ due, chunk });
      if (!direction.timer) direction.timer = setTimeout(() => drain(pair, direction, to), Math.max(0, due - Date.now()));
    });
    from.on('end', () => {
      direction.ended = true;
      if (!direction.timer) drain(pair, direction, to);
    });
  };

  const connectUpstream = (pair: Pair) => {
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => destroy(pair, true));
    upstream.on('close', () => destroy(pair, false));
    upstream.once('connect', () => {
      relay(pair, pair.client, upstream, pair.toUpstream);
      relay(pair, upstream, pair.client, pair.toClient);
      pair.client.resume();
    });
  };

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    acceptedCount++;
    const pair: Pair = { client, upstream: undefined, toUpstream: newDirection(), toClient: newDirection(), doomed: inOutage() };
    pairs.add(pair);
    client.on('error', () => destroy(pair, true));
    client.on('close', () => destroy(pair, false));
    // During an outage the connection hangs as one to an unreachable host does.
    if (!pair.doomed) connectUpstream(pair);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  return {
    port,
    setLatency: (latency, jitter = 0) => {
      latencyMs = latency;
      jitterMs = jitter;
    },
    reset: (share = 1) => {
      const chosen = [...pairs].filter(() => Math.random() < share);
      for (const pair of chosen) destroy(pair, true);
      return chosen.length;
    },
    outage: async (ms) => {
      if (inOutage()) throw new Error('an outage is already under way on this proxy');
      outageUntil = Date.now() + ms;
      for (const pair of pairs) {
        pair.doomed = true;
        pair.client.pause();
        pair.upstream?.pause();
        for (const direction of [pair.toUpstream, pair.toClient]) {
          clearTimeout(direction.timer);
          direction.timer = undefined;
          direction.queue = [];
        }
      }
      await new Promise((resolve) => setTimeout(resolve, ms));
      outageUntil = undefined;
      for (const pair of [...pairs]) if (pair.doomed) destroy(pair, true);
    },
    inOutage,
    connections: () => pairs.size,
    accepted: () => acceptedCount,
    close: async () => {
      for (const pair of [...pairs]) destroy(pair, false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
