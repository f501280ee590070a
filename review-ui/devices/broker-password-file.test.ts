import { describe, expect, it } from 'vitest';
import { passwordFileContents } from './broker-password-file.js';

const hash = (tag: string) => `$7$101$c2FsdHNhbHRzYWx0$${tag}`;

describe('the broker password file written from the registry', () => {
  it('keeps the service accounts, rewrites every device line and drops the rest', () => {
    const existing = [
      `verity-gateway:${hash('gw')}`,
      `CAM-1:${hash('old')}`,
      `CAM-REVOKED:${hash('revoked')}`,
      '',
      `verity-simulator:${hash('sim')}`,
      'verity-no-colon-garbage',
    ].join('\n');
    const contents = passwordFileContents(existing, [
      { deviceId: 'CAM-1', passwordHash: hash('new') },
      { deviceId: 'CAM-2', passwordHash: hash('two') },
    ]);
    expect(contents.text).toBe(
      [`verity-gateway:${hash('gw')}`, `verity-simulator:${hash('sim')}`, `CAM-1:${hash('new')}`, `CAM-2:${hash('two')}`, ''].join('\n'),
    );
    expect(contents.serviceAccounts).toEqual(['verity-gateway', 'verity-simulator']);
    expect(contents.devices).toEqual(['CAM-1', 'CAM-2']);
  });

  it('never lets a device take a service account, whatever the registry holds', () => {
    const contents = passwordFileContents(`verity-gateway:${hash('gw')}\n`, [{ deviceId: 'verity-gateway', passwordHash: hash('device') }]);
    expect(contents.text).toBe(`verity-gateway:${hash('gw')}\n`);
    expect(contents.refused).toEqual(['verity-gateway']);
  });

  it('is empty for an empty registry and no file', () => {
    expect(passwordFileContents('', []).text).toBe('');
  });
});
