import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logIn, startAllInOne, waitForThumbnailedCapture, type AllInOneProcess } from './support/all-in-one-process.js';
import { createTempDir, waitFor } from './support/isolated.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('all-in-one mode on its embedded defaults', () => {
  let dataDir: Awaited<ReturnType<typeof createTempDir>>;
  let system: AllInOneProcess | undefined;

  beforeAll(async () => {
    dataDir = await createTempDir('all-in-one');
    // Malfunctions every second: their minutes-long waits must not hold up Ctrl-C.
    system = await startAllInOne({
      DATA_DIR: dataDir.dir,
      SIMULATOR_DEVICES: '2',
      SIMULATOR_INTERVAL_MS: '1500',
      SIMULATOR_FAULT_EVERY_MS: '1000',
    });
  });

  afterAll(async () => {
    await system?.kill();
    await dataDir?.remove();
  });

  it('starts with no DATABASE_URL, MQTT_URL or REDIS_URL, shows simulated captures with thumbnails, and stops cleanly', async () => {
    const { reviewUrl } = system!;
    const health = await fetch(new URL('/health', reviewUrl));
    expect(health.status).toBe(200);

    // The demo logins it printed work, and nothing is listed without one.
    const reviewer = await system!.demoAccount('reviewer1');
    expect(system!.output()).toContain(reviewer.password);
    expect((await fetch(new URL('/api/captures', reviewUrl))).status).toBe(401);
    const list = await waitForThumbnailedCapture(reviewUrl, await logIn(reviewUrl, reviewer));
    expect(list.captures[0]?.deviceId).toMatch(/^SIM-CAM-/);
    const redisPid = Number(/redis-server \(pid (\d+)\)/.exec(system!.output())?.[1]);
    expect(isRunning(redisPid)).toBe(true);

    // A fault's 90-second wait still holding up shutdown would outlast this test's timeout.
    expect(await system!.interrupt()).toBe(0);
    await waitFor('the embedded redis-server to exit', async () => (isRunning(redisPid) ? undefined : true), 5000);
  });

  it('takes its redis-server down with it even when killed outright', async () => {
    const killedDir = await createTempDir('all-in-one-killed');
    const killed = await startAllInOne({ DATA_DIR: killedDir.dir, SIMULATOR_DEVICES: '0' });
    try {
      const redisPid = Number(/redis-server \(pid (\d+)\)/.exec(killed.output())?.[1]);
      expect(isRunning(redisPid)).toBe(true);
      killed.child.kill('SIGKILL');
      await waitFor('the orphaned redis-server to exit', async () => (isRunning(redisPid) ? undefined : true), 5000);
    } finally {
      await killed.kill();
      await killedDir.remove();
    }
  });
});
