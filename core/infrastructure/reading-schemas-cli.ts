import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { readingsJsonSchema } from '../domain/reading-schemas.js';

/** Writes docs/reading-schemas.json from the zod schemas; a unit test fails when the two drift apart. */
const target = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/reading-schemas.json');
const options = (await resolveConfig(target)) ?? {};
await writeFile(target, await format(JSON.stringify(readingsJsonSchema()), { ...options, filepath: target }));
console.log(`Wrote ${path.relative(process.cwd(), target)}`);
