import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql, type ExtractTablesWithRelations } from 'drizzle-orm';
import { drizzle as drizzleNodePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import * as schema from './schema.js';

type Schema = typeof schema;
/** The driver-neutral database handle: node-postgres in production, PGlite when embedded. */
export type Db = PgDatabase<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Either handle: code that may run inside a caller's transaction takes this and is given the tx there. */
export type Executor = Db | Tx;

export interface Database {
  db: Db;
  /** Where the data lives, for start-up messages: a URL without password, or a folder. */
  location: string;
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 7_351_000;

/**
 * Thrown when code inside a transaction queries through the pool (or opens a second
 * transaction) instead of the transaction it holds. On PGlite, one connection, that waits on
 * itself forever; on Postgres it takes a second connection while holding the first and
 * exhausts the pool under load. Failing loudly at once is the only safe answer.
 */
export class PoolUsedInsideTransactionError extends Error {
  constructor() {
    super('a query went to the connection pool while this request holds a transaction: pass the transaction (tx), not db');
    this.name = 'PoolUsedInsideTransactionError';
  }
}

/** Thrown when no pooled connection frees up within the acquire timeout; answered 503. */
export class DatabaseBusyError extends Error {
  constructor(waitedMs: number, options?: ErrorOptions) {
    super(`the database had no free connection within ${waitedMs} ms; try again in a moment`, options);
    this.name = 'DatabaseBusyError';
  }
}

const insideTransaction = new AsyncLocalStorage<true>();

function refuseInsideTransaction(): void {
  if (insideTransaction.getStore()) throw new PoolUsedInsideTransactionError();
}

/** Marks the body of every transaction, so a query on the root handle from inside it is refused. */
function guardTransactions(db: Db): Db {
  const open = db.transaction.bind(db);
  db.transaction = (body, config) => {
    refuseInsideTransaction();
    return open((tx) => insideTransaction.run(true, () => body(tx)), config);
  };
  return db;
}

export interface DatabaseOptions {
  url: string | undefined;
  pgliteDir: string;
  poolSize?: number;
  acquireTimeoutMs?: number;
  statementTimeoutMs?: number;
}

const migrationsFolder = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Connects to DATABASE_URL when given, otherwise opens (or creates) an embedded PGlite folder. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) {
    const acquireTimeoutMs = options.acquireTimeoutMs ?? 5000;
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: acquireTimeoutMs,
      statement_timeout: statementTimeoutMs,
      // A transaction left open by a bug holds row locks; the server ends it rather than let it block others forever.
      idle_in_transaction_session_timeout: Math.max(statementTimeoutMs, 60_000),
    });
    // A client losing its server must not crash the process; the next query on it reports the
    // loss (and the pool then discards it). The pool listens only while a client is idle: one
    // checked out for a transaction that is between statements (hashing media, say) when
    // Postgres restarts emits 'error' on itself, which without this listener ends the process.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    guardPool(pool, acquireTimeoutMs);
    const db = guardTransactions(drizzleNodePg(pool, { schema }));
    const safeUrl = new URL(options.url);
    safeUrl.password = '';
    return {
      db,
      location: safeUrl.toString(),
      migrate: async () => {
        // Split-mode roles start together; the lock lets exactly one of them migrate at a time.
        const client = await pool.connect();
        try {
          await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
          await migrateNodePg(drizzleNodePg(client, { schema }), { migrationsFolder });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
          client.release();
        }
      },
      ping: async () => {
        await pool.query('select 1');
      },
      close: () => pool.end(),
    };
  }
  await mkdir(options.pgliteDir, { recursive: true });
  const client = await PGlite.create(options.pgliteDir);
  guardPglite(client);
  const db = guardTransactions(drizzlePglite(client, { schema }));
  return {
    db,
    location: options.pgliteDir,
    migrate: () => migratePglite(db as never, { migrationsFolder }),
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    close: () => client.close(),
  };
}

/** Refuses pool use from inside a transaction, and names a pool wait that timed out. */
function guardPool(pool: pg.Pool, acquireTimeoutMs: number): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  const busy = (error: unknown) => {
    // node-postgres says only "timeout exceeded when trying to connect" when the pool stays full.
    throw error instanceof Error && /timeout exceeded when trying to connect/.test(error.message)
      ? new DatabaseBusyError(acquireTimeoutMs, { cause: error })
      : error;
  };
  pool.query = ((...args: unknown[]) => {
    refuseInsideTransaction();
    const result = query(...args);
    // The callback form returns nothing; only the promise form has a wait to name.
    return result instanceof Promise ? result.catch(busy) : result;
  }) as unknown as pg.Pool['query'];
  // pg's own query() checks out a client with the callback form of connect(): pass it through.
  pool.connect = ((...args: unknown[]) => {
    refuseInsideTransaction();
    const result = connect(...args);
    return result instanceof Promise ? result.catch(busy) : result;
  }) as unknown as pg.Pool['connect'];
}

/** PGlite has one connection: a query on it from inside its own transaction would wait forever. */
function guardPglite(client: PGlite): void {
  const query = client.query.bind(client);
  const exec = client.exec.bind(client);
  client.query = ((...args: Parameters<PGlite['query']>) => {
    refuseInsideTransaction();
    return query(...args);
  }) as PGlite['query'];
  client.exec = (...args: Parameters<PGlite['exec']>) => {
    refuseInsideTransaction();
    return exec(...args);
  };
}
