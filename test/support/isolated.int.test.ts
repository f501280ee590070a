import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from './isolated.js';

describe('createTestDatabase', () => {
  it('takes any label a test file picks, hyphens and length included, and drops what it made', async () => {
    const database = await createTestDatabase('people-retention and a label far longer than any identifier Postgres keeps');
    const client = new pg.Client({ connectionString: database.url });
    try {
      await client.connect();
      const answer = await client.query<{ name: string }>('SELECT current_database() AS name');
      expect(answer.rows[0]?.name).toBe(database.name);
      expect(database.name.length).toBeLessThanOrEqual(63);
    } finally {
      await client.end();
      await database.drop();
    }
  });
});
