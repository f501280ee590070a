import net from 'node:net';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** An echo server on loopback, the proxy in front of it, and a client that waits for each answer. */
describe('the loopback fault proxy', () => {
  let echo: net.Server;
  let proxy: FaultProxy;

  beforeAll(async () => {
    echo = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    proxy = await startFaultProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });

  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  async function connect(): Promise<net.Socket> {
    const socket = net.connect(proxy.port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  }

  /** Sends `text` and resolves with what came back and how long it took, or `undefined` past `timeoutMs`. */
  function roundTrip(socket: net.Socket, text: string, timeoutMs = 2000): Promise<{ reply: string; ms: number } | undefined> {
    const started = performance.now();
    return new Promise((resolve) => {
      let reply = '';
      const timer = setTimeout(() => {
        socket.off('data', onData);
        resolve(undefined);
      }, timeoutMs);
      const onData = (chunk: Buffer) => {
        reply += chunk.toString();
        if (reply.length < text.length) return;
        clearTimeout(timer);
        socket.off('data', onData);
        resolve({ reply, ms: performance.now() - started });
      };
      socket.on('data', onData);
      socket.write(text);
    });
  }

  it('passes bytes through unchanged and in order, even with jitter', async () => {
    proxy.setLatency(2, 20);
    const socket = await connect();
    const text = Array.from({ length: 200 }, (_, index) => `${index};`).join('');
    const answer = new Promise<string>((resolve) => {
      let reply = '';
      socket.on('data', (chunk: Buffer) => {
        reply += chunk.toString();
        if (reply.length >= text.length) resolve(reply);
      });
    });
    // Many small writes, each its own chunk with its own random delay.
    for (const part of text.match(/[^;]*;/g)!) {
      socket.write(part);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(await answer).toBe(text);
    socket.destroy();
    proxy.setLatency(0);
  });

  it('adds the configured latency each way', async () => {
    const socket = await connect();
    const direct = await roundTrip(socket, 'ping');
    proxy.setLatency(100);
    const delayed = await roundTrip(socket, 'ping');
    proxy.setLatency(0);
    expect(direct?.reply).toBe('ping');
    expect(delayed?.reply).toBe('ping');
    // Once to the server and once back.
    expect(delayed!.ms).toBeGreaterThanOrEqual(195);
    socket.destroy();
  });

  it('resets open connections with a TCP RST', async () => {
    const socket = await connect();
    expect(await roundTrip(socket, 'hello')).toBeDefined();
    const failed = once(socket, 'error');
    expect(proxy.reset()).toBeGreaterThanOrEqual(1);
    const [error] = (await failed) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNRESET');
  });

  it('lets nothing through during an outage, resets what it held, and works again afterwards', async () => {
    const before = await connect();
    expect(await roundTrip(before, 'a')).toBeDefined();
    const outage = proxy.outage(1500);
    expect(proxy.inOutage()).toBe(true);
    const heldReset = once(before, 'error');
    expect(await roundTrip(before, 'stalled', 500)).toBeUndefined();
    // A connection opened during the outage is accepted but never answered.
    const during = await connect();
    const duringReset = once(during, 'error');
    expect(await roundTrip(during, 'stalled too', 500)).toBeUndefined();
    await outage;
    expect(proxy.inOutage()).toBe(false);
    expect(((await heldReset) as [NodeJS.ErrnoException])[0].code).toBe('ECONNRESET');
    expect(((await duringReset) as [NodeJS.ErrnoException])[0].code).toBe('ECONNRESET');
    const after = await connect();
    expect((await roundTrip(after, 'back'))?.reply).toBe('back');
    after.destroy();
  });
});
