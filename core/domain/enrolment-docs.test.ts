import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CERTIFICATION_KINDS } from './certification.js';
import { DEVICE_KINDS, certificationSchema, enrolmentSchema } from './device-registration.js';

const protocol = readFileSync(fileURLToPath(new URL('../../docs/protocol.md', import.meta.url)), 'utf8');
const start = protocol.indexOf('\n## Enrolment\n');
const section = protocol.slice(start, protocol.indexOf('\n## ', start + 1));

describe("docs/protocol.md's Enrolment section, held to the schemas the review server validates with", () => {
  it('lists exactly the enrolment fields, with every device kind', () => {
    const fields = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => /^\| `([^`]+)`/.exec(line)![1]);
    expect(fields).toEqual(Object.keys(enrolmentSchema.shape));
    for (const kind of DEVICE_KINDS) expect(section).toContain(`\`${kind}\``);
  });

  it('gives an example body the server accepts', () => {
    const example = /```json\n([\s\S]*?)\n```/.exec(section)![1]!;
    expect(enrolmentSchema.safeParse(JSON.parse(example)).error).toBeUndefined();
  });

  it('names every certification kind and the certification body fields', () => {
    for (const kind of CERTIFICATION_KINDS) expect(section).toContain(`\`${kind}\``);
    const body = certificationSchema.safeParse({
      kind: 'signage',
      reference: 'S-1',
      validFrom: '2026-01-01T00:00:00Z',
      validTo: '2027-01-01T00:00:00Z',
      documentSha256: 'a'.repeat(64),
    });
    expect(body.success).toBe(true);
    for (const field of ['"kind"', '"reference"', '"validFrom"', '"validTo"', '`documentSha256`']) expect(section).toContain(field);
  });
});
