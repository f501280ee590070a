import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { protocolDocuments } from './protocol-documents.js';

/** `npm run docs:protocol`: rewrites docs/asyncapi.json, docs/reading-schemas.json and docs/conformance/vectors.json after a protocol change. */
for (const document of await protocolDocuments()) {
  await writeFile(document.file, document.text);
  console.log(`Wrote ${path.relative(process.cwd(), document.file)}`);
}
