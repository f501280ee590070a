import { z } from 'zod';

/** Every refusal a handler sends itself: one sentence saying what is wrong and what to do. */
export const refusalSchema = z.object({ error: z.string() });
