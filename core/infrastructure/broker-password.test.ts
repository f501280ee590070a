import { describe, expect, it } from 'vitest';
import { mosquittoPasswordHash, newBrokerPassword, passwordFileLine } from './broker-password.js';

describe('Mosquitto password-file lines', () => {
  it('hash as mosquitto_passwd does: this line came from `mosquitto_passwd -b` 2.0.11 for the password "secret"', () => {
    const written = 'dev1:$7$101$qXwHa0ICesAha3kK$hldKm76Tl+QKcGRWz79y2MJqNlGPyOAXMA14iWzyoeKc7FFEwIjKMroXXzhHoWqtQPDxspJ7DUqmpPggI+NZZg==';
    const salt = Buffer.from('qXwHa0ICesAha3kK', 'base64');
    expect(passwordFileLine('dev1', mosquittoPasswordHash('secret', salt))).toBe(written);
  });

  it('salt every hash afresh and make long passwords', () => {
    expect(mosquittoPasswordHash('same')).not.toBe(mosquittoPasswordHash('same'));
    expect(newBrokerPassword()).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('refuse a username the broker would read back differently', () => {
    expect(() => passwordFileLine('a:b', mosquittoPasswordHash('x'))).toThrow(/not a usable broker username/);
    expect(() => passwordFileLine('a\nb', mosquittoPasswordHash('x'))).toThrow(/not a usable broker username/);
  });
});
