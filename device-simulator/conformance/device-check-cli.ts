import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { GatewayPublicKey } from '../../core/domain/signed-ack.js';
import { checkDeviceUnderTest } from './device-under-test-check.js';
import { checkGateway, type CheckResult } from './gateway-check.js';
import { VECTOR_KEYS } from './vectors.js';

/**
 * `npm run device:check`: the protocol conformance kit. Against a gateway it plays every case
 * of docs/conformance/vectors.json as an enrolled test device; against a device under test it
 * watches what the device publishes and whether a forged ack makes it drop a capture. Exits 0
 * when every check passes, 1 when one fails, 2 when it could not check.
 */
const USAGE = `usage:
  npm run device:check -- --against gateway --mqtt <url> --device <id> --gateway-keys <url or file>
                          [--key <device private key PEM, default: the kit's test key>] [--root verity/v1]
                          [--media-window-seconds 60] [--answer-seconds 15] [--username U --password P]
  npm run device:check -- --against device --mqtt <url> --device <id> --device-key <device public key PEM>
                          [--listen-seconds 120] [--root verity/v1] [--username U --password P]`;

export interface DeviceCheckIo {
  out: (line: string) => void;
  err: (line: string) => void;
  fetchText: (url: string) => Promise<string>;
}

const consoleIo: DeviceCheckIo = {
  out: console.log,
  err: console.error,
  fetchText: async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return response.text();
  },
};

const gatewayKeysSchema = z.object({ keys: z.array(z.object({ fingerprint: z.string(), publicKeyPem: z.string() })).min(1) });

async function readGatewayKeys(source: string, io: DeviceCheckIo): Promise<GatewayPublicKey[]> {
  const text = /^https?:\/\//.test(source) ? await io.fetchText(source) : await readFile(source, 'utf8');
  return gatewayKeysSchema.parse(JSON.parse(text)).keys;
}

const mark = (result: CheckResult) => `${result.passed ? '✓' : '✗'} ${result.name}: ${result.detail}`;

/** Runs the command argv describes and returns its exit code. */
export async function runDeviceCheckCli(argv: string[], io: DeviceCheckIo = consoleIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        against: { type: 'string' },
        mqtt: { type: 'string' },
        device: { type: 'string' },
        root: { type: 'string', default: 'verity/v1' },
        'gateway-keys': { type: 'string' },
        key: { type: 'string' },
        'device-key': { type: 'string' },
        'media-window-seconds': { type: 'string', default: '60' },
        'answer-seconds': { type: 'string', default: '15' },
        'listen-seconds': { type: 'string', default: '120' },
        username: { type: 'string' },
        password: { type: 'string' },
      },
    }));
    if (!values.mqtt || !values.device) throw new Error('--mqtt and --device are required');
    if (values.against !== 'gateway' && values.against !== 'device') throw new Error('--against must be gateway or device');
    for (const option of ['media-window-seconds', 'answer-seconds', 'listen-seconds'] as const) {
      if (!(Number(values[option]) >= 0)) throw new Error(`--${option} must be a number of seconds`);
    }
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const clientOptions = values.username ? { username: values.username, password: values.password } : {};
  let results: CheckResult[];
  try {
    if (values.against === 'gateway') {
      if (!values['gateway-keys']) throw new Error('--gateway-keys is required against a gateway');
      const gatewayKeys = await readGatewayKeys(values['gateway-keys'], io);
      const deviceKey = values.key ? createPrivateKey(await readFile(values.key)) : VECTOR_KEYS.device.privateKey;
      results = await checkGateway({
        mqttUrl: values.mqtt,
        clientOptions,
        topicRoot: values.root,
        deviceId: values.device,
        deviceKey,
        gatewayKeys,
        answerTimeoutMs: Number(values['answer-seconds']) * 1000,
        mediaWindowMs: Number(values['media-window-seconds']) * 1000,
        onResult: (result, done, total) => io.out(`[${done}/${total}] ${mark(result)}`),
      });
    } else {
      if (!values['device-key']) throw new Error('--device-key is required against a device');
      const listenMs = Number(values['listen-seconds']) * 1000;
      io.out(`watching ${values.device} for ${listenMs / 1000} s on ${values.mqtt} …`);
      results = await checkDeviceUnderTest({
        mqttUrl: values.mqtt,
        clientOptions,
        topicRoot: values.root,
        deviceId: values.device,
        devicePublicKeyPem: await readFile(values['device-key'], 'utf8'),
        listenMs,
        onResult: (result) => io.out(mark(result)),
      });
    }
  } catch (error) {
    io.err(`could not check: ${(error as Error).message}`);
    return 2;
  }
  const failed = results.filter((result) => !result.passed);
  io.out(failed.length === 0 ? `all ${results.length} checks passed` : `${failed.length} of ${results.length} checks failed`);
  return failed.length === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runDeviceCheckCli(process.argv.slice(2));
}
