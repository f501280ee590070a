import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chown, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { freePort } from '../../core/infrastructure/embedded-redis.js';
import { createTempDir, waitFor } from './isolated.js';

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/mosquitto');

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from))
    throw new Error(`the shipped mosquitto.conf no longer has \`${from}\`; update test/support/shipped-mosquitto.ts`);
  return text.replace(from, to);
}

export interface ShippedMosquitto {
  url: string;
  /** The password file the broker reads; rewrite it, then `reload()`. */
  passwordFile: string;
  /** SIGHUP, as `docker compose kill -s SIGHUP mosquitto` sends: the password and ACL files are read again. */
  reload(): Promise<void>;
  remove(): Promise<void>;
}

/** Mosquitto's owner, when this process runs as root; Mosquitto then switches to it, as in the container. */
function mosquittoUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'mosquitto'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * The broker docker-compose.yml runs, started from the shipped deploy/mosquitto files on a free
 * port: only the container paths and the port are replaced, so what a test proves is what ships.
 * `passwords` is the password file's text; `probe` is an account it holds, used to wait for readiness.
 */
export async function startShippedMosquitto(passwords: string, probe: { username: string; password: string }): Promise<ShippedMosquitto> {
  const dir = await createTempDir('shipped-mosquitto');
  const port = await freePort();
  const passwordFile = path.join(dir.dir, 'passwords');
  let conf = await readFile(path.join(deployDir, 'mosquitto.conf'), 'utf8');
  conf = replaceOnce(conf, '\nlistener 1883\n', `\nlistener ${port} 127.0.0.1\n`);
  conf = replaceOnce(conf, 'password_file /mosquitto/auth/passwords', `password_file ${passwordFile}`);
  conf = replaceOnce(conf, 'acl_file /mosquitto/config/acl', `acl_file ${dir.dir}/acl`);
  conf = replaceOnce(conf, 'persistence_location /mosquitto/data/', `persistence_location ${dir.dir}/`);
  await writeFile(path.join(dir.dir, 'mosquitto.conf'), conf);
  await writeFile(path.join(dir.dir, 'acl'), await readFile(path.join(deployDir, 'acl'), 'utf8'));
  await writeFile(passwordFile, passwords, { mode: 0o600 });
  const owner = mosquittoUser();
  if (owner) for (const file of ['', 'mosquitto.conf', 'acl', 'passwords']) await chown(path.join(dir.dir, file), owner.uid, owner.gid);
  const broker: ChildProcess = spawn('mosquitto', ['-c', path.join(dir.dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(`the shipped broker to take ${probe.username}`, async () => {
    if (broker.exitCode !== null) throw new Error(`mosquitto exited with ${broker.exitCode}`);
    const client = await mqtt.connectAsync(url, { ...probe, reconnectPeriod: 0, connectTimeout: 1000 }).catch(() => undefined);
    await client?.endAsync();
    return client ? true : undefined;
  });
  return {
    url,
    passwordFile,
    reload: async () => {
      broker.kill('SIGHUP');
      // Mosquitto gives no sign that it has read the files again; its loop runs several times a second.
      await new Promise((resolve) => setTimeout(resolve, 500));
    },
    remove: async () => {
      if (broker.exitCode === null) {
        broker.kill('SIGTERM');
        await once(broker, 'exit');
      }
      await dir.remove();
    },
  };
}
