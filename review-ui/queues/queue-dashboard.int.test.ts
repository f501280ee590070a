import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilesystemMediaStore } from '../../core/infrastructure/media-store.js';
import { QueueRegistry } from '../../core/infrastructure/queues.js';
import { createTempDir, createTestDatabase, createTestRedis } from '../../test/support/isolated.js';
import { buildTestReviewServer, personLoggedIn, type LoggedIn } from '../../test/support/review-server.js';
import { QUEUE_DASHBOARD_PATH } from './queue-dashboard.js';

interface BoardQueues {
  queues: { name: string; readOnlyMode: boolean; counts: Record<string, number> }[];
}

describe('the job queue dashboard', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let mediaDir: Awaited<ReturnType<typeof createTempDir>>;
  let redis: ReturnType<typeof createTestRedis>;
  let queues: QueueRegistry;
  let app: FastifyInstance;
  let sysadmin: LoggedIn;
  let reviewer: LoggedIn;

  beforeAll(async () => {
    database = await createTestDatabase('queue_board');
    mediaDir = await createTempDir('queue-board-media');
    redis = createTestRedis('queue_board');
    queues = new QueueRegistry(redis.redis, redis.prefix);
    app = await buildTestReviewServer({ db: database.db, store: new FilesystemMediaStore(mediaDir.dir), queues: queues.all() });
    sysadmin = await personLoggedIn(app, database.db, 'board-admin', ['system_admin']);
    reviewer = await personLoggedIn(app, database.db, 'board-reviewer', ['reviewer']);
  });

  afterAll(async () => {
    await app?.close();
    await queues?.close();
    await redis?.cleanup();
    await database?.drop();
    await mediaDir?.remove();
  });

  it('shows a system administrator every queue with its waiting jobs, read only', async () => {
    await queues.enqueue('media', 'derive-thumbnails', { captureId: '00000000-0000-4000-8000-000000000001' }, 'board-job-1');
    const response = await app.inject({ method: 'GET', url: `${QUEUE_DASHBOARD_PATH}/api/queues`, headers: sysadmin.headers });
    expect(response.statusCode).toBe(200);
    const board = response.json<BoardQueues>();
    expect(board.queues.map((queue) => queue.name).sort()).toEqual(
      queues
        .all()
        .map((queue) => queue.name)
        .sort(),
    );
    expect(board.queues.every((queue) => queue.readOnlyMode)).toBe(true);
    expect(board.queues.find((queue) => queue.name === 'media')?.counts.waiting).toBe(1);
  });

  it('refuses to retry, clean or pause from the page: the reconciler is what re-sends jobs, and it audits', async () => {
    const attempts = [
      { method: 'PUT' as const, url: `${QUEUE_DASHBOARD_PATH}/api/queues/media/pause` },
      { method: 'PUT' as const, url: `${QUEUE_DASHBOARD_PATH}/api/queues/media/clean/waiting` },
      { method: 'PUT' as const, url: `${QUEUE_DASHBOARD_PATH}/api/queues/media/board-job-1/clean` },
      { method: 'PUT' as const, url: `${QUEUE_DASHBOARD_PATH}/api/queues/media/obliterate` },
    ];
    for (const attempt of attempts) {
      const response = await app.inject({ ...attempt, headers: sysadmin.headers });
      expect(response.statusCode, `${attempt.method} ${attempt.url}`).toBe(405);
      expect(response.json<{ error: { key: string } }>().error.key).toBe('ERRORS.QUEUE_READ_ONLY');
    }
    expect(await queues.get('media').isPaused()).toBe(false);
    expect(await queues.get('media').getJob('board-job-1')).toBeDefined();
  });

  it('is closed to other roles and to anyone not logged in, sending a browser to the login page', async () => {
    const asReviewer = await app.inject({ method: 'GET', url: `${QUEUE_DASHBOARD_PATH}/api/queues`, headers: reviewer.headers });
    expect(asReviewer.statusCode).toBe(403);
    expect(asReviewer.json<{ error: string }>().error).toContain('queues.read');
    expect((await app.inject({ method: 'GET', url: `${QUEUE_DASHBOARD_PATH}/api/queues` })).statusCode).toBe(401);
    const browser = await app.inject({ method: 'GET', url: QUEUE_DASHBOARD_PATH, headers: { accept: 'text/html' } });
    expect(browser.statusCode).toBe(302);
    expect(browser.headers.location).toBe(`/login.html?next=${encodeURIComponent(QUEUE_DASHBOARD_PATH)}`);
  });

  it('serves its page without any request to the internet and under a policy that still forbids inline script', async () => {
    const page = await app.inject({ method: 'GET', url: QUEUE_DASHBOARD_PATH, headers: { ...sysadmin.headers, accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.body).not.toMatch(/https?:\/\//);
    const policy = String(page.headers['content-security-policy']);
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("frame-ancestors 'none'");
    const script = page.body.match(/<script defer src="([^"]+)"/)?.[1];
    expect(script).toBeDefined();
    const asset = await app.inject({ method: 'GET', url: `${QUEUE_DASHBOARD_PATH}/${script}`, headers: sysadmin.headers });
    expect(asset.statusCode).toBe(200);
  });
});
