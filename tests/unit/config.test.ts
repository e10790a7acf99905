/**
 * The settings of sign-in transport: TLS_CERT/TLS_KEY come as a pair and
 * let HOST leave loopback (SEC-15), and the four OIDC_* settings come
 * together, with an https issuer (plain http only on loopback) and a
 * redirect URL that is this server's callback route. Each mistake is a
 * message naming the setting, at start.
 */
import { describe, expect, it } from 'vitest';
import { checkBind, loadConfig } from '../../tiles-server/config.js';

const OIDC = {
  OIDC_ISSUER: 'https://id.example.org/realms/lab',
  OIDC_CLIENT_ID: 'wsi',
  OIDC_CLIENT_SECRET: 'secret',
  OIDC_REDIRECT_URL: 'https://slides.example.org/api/auth/oidc/callback',
};

const load = (env: Record<string, string>) => loadConfig(env, []);

describe('TLS settings', () => {
  it('are off by default, and come as a pair of absolute paths', () => {
    expect(load({}).tls).toBeNull();
    expect(load({ TLS_CERT: 'c.pem', TLS_KEY: '/k.pem' }).tls).toEqual({ certFile: expect.stringMatching(/^\/.*\/c\.pem$/), keyFile: '/k.pem' });
    expect(() => load({ TLS_CERT: 'c.pem' })).toThrow(/TLS needs both TLS_CERT and TLS_KEY.*only TLS_CERT/);
    expect(() => load({ TLS_KEY: 'k.pem' })).toThrow(/only TLS_KEY/);
  });

  it('let HOST leave loopback without TRUST_PROXY (SEC-15)', () => {
    expect(() => checkBind(load({ HOST: '0.0.0.0' }))).toThrow(/TLS_CERT and TLS_KEY.*TRUST_PROXY/);
    expect(() => checkBind(load({ HOST: '0.0.0.0', TLS_CERT: 'c', TLS_KEY: 'k' }))).not.toThrow();
    expect(() => checkBind(load({ HOST: '0.0.0.0', TRUST_PROXY: '1' }))).not.toThrow();
    expect(() => checkBind(load({ HOST: '127.0.0.1' }))).not.toThrow();
  });
});

describe('OIDC settings', () => {
  it('are off by default, and on with all four; the button is named after the issuer unless OIDC_NAME says', () => {
    expect(load({}).oidc).toBeNull();
    expect(load(OIDC).oidc).toEqual({ issuer: OIDC.OIDC_ISSUER, clientId: 'wsi', clientSecret: 'secret', redirectUrl: OIDC.OIDC_REDIRECT_URL, name: 'id.example.org' });
    expect(load({ ...OIDC, OIDC_NAME: 'Hospital login' }).oidc?.name).toBe('Hospital login');
  });

  it('refuse a partial configuration, naming what is missing', () => {
    const { OIDC_CLIENT_SECRET: _s, ...noSecret } = OIDC;
    expect(() => load(noSecret)).toThrow(/missing: OIDC_CLIENT_SECRET$/);
    expect(() => load({ OIDC_ISSUER: OIDC.OIDC_ISSUER })).toThrow(/missing: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URL/);
  });

  it('refuse a plain-http issuer or redirect off loopback, and garbage URLs', () => {
    expect(() => load({ ...OIDC, OIDC_ISSUER: 'http://id.example.org' })).toThrow(/OIDC_ISSUER must be https/);
    expect(() => load({ ...OIDC, OIDC_REDIRECT_URL: 'http://slides.example.org/api/auth/oidc/callback' })).toThrow(/OIDC_REDIRECT_URL must be https/);
    expect(() => load({ ...OIDC, OIDC_ISSUER: 'not a url' })).toThrow(/OIDC_ISSUER must be an absolute URL/);
    expect(() => load({ ...OIDC, OIDC_ISSUER: 'https://user:pw@id.example.org' })).toThrow(/credentials/);
    expect(load({ ...OIDC, OIDC_ISSUER: 'http://127.0.0.1:9000', OIDC_REDIRECT_URL: 'http://localhost:8080/api/auth/oidc/callback' }).oidc?.issuer).toBe('http://127.0.0.1:9000');
  });

  it('refuse a redirect URL that is not this server’s callback route', () => {
    expect(() => load({ ...OIDC, OIDC_REDIRECT_URL: 'https://slides.example.org/callback' })).toThrow(/must be this server's \/api\/auth\/oidc\/callback/);
    expect(() => load({ ...OIDC, OIDC_REDIRECT_URL: 'https://slides.example.org/api/auth/oidc/callback?x=1' })).toThrow(/must be this server's/);
  });
});
