import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { buildProtocolAsyncApi } from '../../core/domain/protocol-asyncapi.js';
import { readingsJsonSchema } from '../../core/domain/reading-schemas.js';
import { signedAckSchema } from '../../core/domain/signed-ack.js';
import { buildPublishedVectors } from './published-vectors.js';

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs');

/** The machine-readable protocol documents under docs/, as the code defines them; a unit test keeps the committed copies equal. */
export async function protocolDocuments(): Promise<{ file: string; text: string }[]> {
  const documents = [
    { file: path.join(docs, 'asyncapi.json'), value: buildProtocolAsyncApi(signedAckSchema) },
    { file: path.join(docs, 'reading-schemas.json'), value: readingsJsonSchema() },
    { file: path.join(docs, 'conformance', 'vectors.json'), value: await buildPublishedVectors() },
  ];
  return Promise.all(
    documents.map(async ({ file, value }) => {
      const options = (await resolveConfig(file)) ?? {};
      return { file, text: await format(JSON.stringify(value), { ...options, filepath: file }) };
    }),
  );
}
