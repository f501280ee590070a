import net from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * An in-process MQTT 3.1.1 broker for the all-in-one mode. It keeps sessions in memory, so
 * it is for trying Verity out; production uses Mosquitto or EMQX (docker-compose.yml).
 */
export async function startEmbeddedBroker(port: number, host = '127.0.0.1'): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`MQTT port ${port} is taken: set MQTT_EMBEDDED_PORT to a free port, or MQTT_URL to use that broker`)
          : error,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `mqtt://${host}:${actualPort}`,
    port: actualPort,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      // Connected clients keep the server open; the broker's close above has ended them.
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
