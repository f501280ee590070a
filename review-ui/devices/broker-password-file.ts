import { isServiceAccount, passwordFileLine } from '../../core/infrastructure/broker-password.js';

export interface PasswordFileContents {
  text: string;
  serviceAccounts: string[];
  devices: string[];
  /** Devices left out because their id is a service account's name. */
  refused: string[];
}

/**
 * The broker's password file: the service accounts as the existing file has them (set by
 * docker-compose.yml's mosquitto-accounts, or by hand with mosquitto_passwd), then one line per
 * device account from the registry. Every other line of the old file is dropped, so a revoked
 * device, whose account the registry no longer lists, loses its login at the next reload.
 */
export function passwordFileContents(
  existing: string,
  accounts: readonly { deviceId: string; passwordHash: string }[],
): PasswordFileContents {
  const kept = existing
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.indexOf(':') > 0 && isServiceAccount(line.slice(0, line.indexOf(':'))));
  const allowed = accounts.filter((account) => !isServiceAccount(account.deviceId));
  const lines = [...kept, ...allowed.map((account) => passwordFileLine(account.deviceId, account.passwordHash))];
  return {
    text: lines.length > 0 ? `${lines.join('\n')}\n` : '',
    serviceAccounts: kept.map((line) => line.slice(0, line.indexOf(':'))),
    devices: allowed.map((account) => account.deviceId),
    refused: accounts.filter((account) => isServiceAccount(account.deviceId)).map((account) => account.deviceId),
  };
}
