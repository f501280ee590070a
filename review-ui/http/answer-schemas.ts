import { z } from 'zod';

/** Every refusal a handler sends itself: one sentence saying what is wrong and what to do. */
export const refusalSchema = z.object({ error: z.string() });

/**
 * The body of a route that takes none: send nothing, or an empty object. Fastify hands the
 * validator null, not undefined, for a POST without a body, hence nullish.
 */
export const noBody = z.strictObject({}).nullish();

/**
 * A 400: the handler's own sentence, or fastify's refusal of a request its schema does not
 * accept, which names the failing field in `message` (the serializer would drop it otherwise).
 */
export const badRequestSchema = refusalSchema.extend({
  message: z.string().optional().describe('the failing field and why, when the request schema refused it'),
  statusCode: z.number().int().optional(),
  code: z.string().optional(),
});

/**
 * An answer that is a file, not JSON: the OpenAPI document names its content type, and the
 * serializer never runs because handlers send bytes or text.
 */
export function fileAnswer(description: string, ...contentTypes: string[]) {
  // Typed as the bytes handlers send; the document shows them as binary, and no serializer ever parses them.
  const body = z.string().meta({ format: 'binary' }) as unknown as z.ZodType<Uint8Array>;
  return { description, content: Object.fromEntries(contentTypes.map((type) => [type, { schema: body }])) };
}

/** Text an answer carries as is (CSV, HTML, Prometheus metrics), described by its content type. */
export function textAnswer(description: string, contentType: string) {
  return { description, content: { [contentType]: { schema: z.string() } } };
}
