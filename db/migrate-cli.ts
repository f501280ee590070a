import { loadConfig } from '../core/domain/config.js';
import { openDatabase } from './client.js';

const config = loadConfig();
const database = await openDatabase(config.database);
try {
  await database.migrate();
  console.log(`Migrations applied to ${database.location}`);
} finally {
  await database.close();
}
