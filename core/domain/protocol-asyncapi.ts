import { z } from 'zod';
import {
  MAX_CAPTURE_MESSAGE_BYTES,
  MAX_CHUNK_BYTES,
  MAX_MEDIA_BYTES,
  PROTOCOL_VERSION,
  envelopeSchema,
  healthReportSchema,
  manifestSchema,
} from './protocol.js';
import { QUARANTINE_REASONS } from './quarantine-reasons.js';

type JsonSchema = Record<string, unknown>;

/**
 * zod's date-time pattern is the upper-case form it checks after reading `t` and `z` as upper
 * case; the published pattern takes both cases, as the gateway does. The pattern stays because
 * validators read `format: date-time` loosely (ajv-formats takes a space for the `T`).
 */
function anyCaseDateTime(pattern: string): string {
  if (pattern.includes('[Tt]')) return pattern;
  const relaxed = pattern.replace(')))T(?:', ')))[Tt](?:').replace('(?:Z|', '(?:[Zz]|');
  if (relaxed === pattern) throw new Error('the date-time pattern changed shape; update anyCaseDateTime');
  return relaxed;
}

/** JSON Schema for one message, in draft 7 (AsyncAPI's own schema format is a superset of it). */
export function messageSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === 'date-time' && typeof jsonSchema.pattern === 'string')
        jsonSchema.pattern = anyCaseDateTime(jsonSchema.pattern);
    },
  }) as JsonSchema;
  delete json.$schema;
  return json;
}

const chunkCountLimit = Math.ceil(MAX_MEDIA_BYTES / MAX_CHUNK_BYTES);

const parameters = {
  root: {
    description: 'The topic root the operator configured (`MQTT_TOPIC_ROOT`); `verity/v1` unless told otherwise.',
    default: 'verity/v1',
  },
  deviceId: {
    description: 'The id assigned at enrolment: 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit.',
  },
  sha256: { description: 'SHA-256 of the whole media file: 64 lowercase hex digits.' },
  index: { description: `0-based chunk index, decimal without leading sign, below count.` },
  count: { description: `Number of chunks of the file, decimal, 1 to ${chunkCountLimit}.` },
};

const qos1 = { mqtt: { qos: 1, retain: false, bindingVersion: '0.2.0' } };

/**
 * The device topics as an AsyncAPI 3.0 document, written from the device's side (it sends
 * media, captures and health reports, and receives acknowledgements). Built from the schemas
 * the gateway validates with, so what it describes is what the gateway enforces.
 */
export function buildProtocolAsyncApi(ackSchema: z.ZodType): Record<string, unknown> {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Verity device protocol',
      version: PROTOCOL_VERSION.replace('verity/', '') + '.0.0',
      description:
        'What a monitoring device and a Verity ingest gateway exchange over MQTT (3.1.1 or 5, QoS 1). ' +
        'docs/protocol.md is the full text: signatures, the I-JSON rule, chunk repair, replay rules and the worked example; ' +
        'docs/reading-schemas.json gives the readings each violation type must carry.',
    },
    defaultContentType: 'application/json',
    channels: {
      mediaChunk: {
        address: '{root}/devices/{deviceId}/media/{sha256}/{index}/{count}',
        title: 'Media chunks',
        description: `Raw bytes of one chunk (1-${MAX_CHUNK_BYTES} bytes) of a media file of at most ${MAX_MEDIA_BYTES} bytes.`,
        parameters,
        messages: {
          mediaChunk: {
            name: 'mediaChunk',
            contentType: 'application/octet-stream',
            payload: { type: 'string', format: 'binary', description: 'The chunk bytes, not encoded.' },
          },
        },
      },
      captures: {
        address: '{root}/devices/{deviceId}/captures',
        title: 'Capture envelopes',
        parameters: { root: parameters.root, deviceId: parameters.deviceId },
        messages: {
          captureEnvelope: {
            name: 'captureEnvelope',
            summary: `A signed manifest, at most ${MAX_CAPTURE_MESSAGE_BYTES} bytes.`,
            description:
              '`manifest` is the standard base64 (RFC 4648 section 4, with padding) of the manifest bytes, whose content is the Manifest schema; ' +
              '`signature` the base64 of the 64-byte Ed25519 signature of exactly those bytes.',
            payload: messageSchema(envelopeSchema),
          },
        },
      },
      health: {
        address: '{root}/devices/{deviceId}/health',
        title: 'Health reports',
        parameters: { root: parameters.root, deviceId: parameters.deviceId },
        messages: {
          healthEnvelope: {
            name: 'healthEnvelope',
            description: 'The same envelope as a capture; the signed bytes are a HealthReport.',
            payload: messageSchema(envelopeSchema),
          },
        },
      },
      acks: {
        address: '{root}/devices/{deviceId}/acks',
        title: 'Acknowledgements',
        parameters: { root: parameters.root, deviceId: parameters.deviceId },
        messages: {
          signedAcknowledgement: {
            name: 'signedAcknowledgement',
            description:
              '`ack` is the base64 of the acknowledgement bytes (the Acknowledgement schema), `signature` the Ed25519 signature of those bytes ' +
              'by the gateway key whose fingerprint the acknowledgement names in `gatewayKey`. Anyone on the broker can publish here: act only on one that verifies.',
            payload: {
              type: 'object',
              properties: { ack: { type: 'string', contentEncoding: 'base64' }, signature: { type: 'string', contentEncoding: 'base64' } },
              required: ['ack', 'signature'],
              additionalProperties: false,
            },
          },
        },
      },
    },
    operations: {
      sendMediaChunk: { action: 'send', channel: { $ref: '#/channels/mediaChunk' }, bindings: qos1 },
      sendCapture: { action: 'send', channel: { $ref: '#/channels/captures' }, bindings: qos1 },
      sendHealthReport: { action: 'send', channel: { $ref: '#/channels/health' }, bindings: qos1 },
      receiveAcknowledgement: { action: 'receive', channel: { $ref: '#/channels/acks' }, bindings: qos1 },
    },
    components: {
      schemas: {
        Manifest: messageSchema(manifestSchema),
        HealthReport: messageSchema(healthReportSchema),
        Acknowledgement: messageSchema(ackSchema),
        QuarantineCode: {
          type: 'string',
          enum: Object.keys(QUARANTINE_REASONS),
          description: 'The reason codes a capture acknowledgement may carry; docs/protocol.md explains each.',
        },
      },
    },
  };
}
