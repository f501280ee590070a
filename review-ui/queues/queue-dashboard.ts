import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { requirePermission } from '../people/authentication.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * The board's page loads its stylesheet font from Google and shows a loader made of inline
 * styles, and resolves its assets against a <base> element. Nothing from the internet may load
 * on a review workstation, so the font link goes; the base element and the loader's styles are
 * allowed on the board's own answers only, every other page keeps the strict policy.
 */
const BOARD_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join(';');

const EXTERNAL_STYLESHEET = /<link[^>]+href="https?:\/\/[^"]*"[^>]*rel="stylesheet"[^>]*>/g;

/**
 * BullMQ's queues as @bull-board shows them, for system administrators behind the login. Read
 * only: a stuck or failed capture job is re-sent by the job reconciler, which audits what it
 * does, so nobody retries, promotes or deletes jobs from a page that would leave no trace.
 */
export async function queueDashboard(app: FastifyInstance, options: { queues: readonly Queue[] }): Promise<void> {
  const adapter = new FastifyAdapter();
  adapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Verity job queues', miscLinks: [{ text: 'Back to Verity', url: '/' }] } },
  });
  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      // A browser sent here without a session goes to the login page and comes back.
      if (!request.principal && request.method === 'GET' && request.headers.accept?.includes('text/html')) {
        return reply.redirect(`/login.html?next=${encodeURIComponent(request.url)}`);
      }
    });
    board.addHook('onRequest', requirePermission('queues.read'));
    board.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', BOARD_POLICY);
      if (typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')) {
        return payload.replace(EXTERNAL_STYLESHEET, '');
      }
      return payload;
    });
    await board.register(adapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
