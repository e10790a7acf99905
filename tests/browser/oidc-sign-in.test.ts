/**
 * OIDC sign-in in Chromium against a real OpenID provider (`oidc-provider`
 * on loopback): the sign-in page offers "Sign in with Test IdP", the user
 * signs in on the provider's own login and consent pages, lands back in the
 * app signed in as a new account with no project, and once a manager adds
 * them to a project sees its slide list. Signing out revokes the session and
 * takes the browser through the provider's logout back to our sign-in page
 * (SEC-09). The app runs under its Content-Security-Policy; requests off
 * loopback (the provider's pages link a web font) are refused.
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSession, type Session } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { freePort, startProvider, type TestProvider } from '../helpers/oidc-provider.js';
import { FIXTURES } from '../helpers/paths.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let browser: Browser;
let idp: TestProvider;
let server: TestServer;
let slides = '';


beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  slides = await mkdtemp(join(tmpdir(), 'wsi-oidc-browser-'));
  await copyFile(join(FIXTURES, 'slides', 'generic-deflate-256.tif'), join(slides, 'one.tif'));
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/api/auth/oidc/callback`;
  idp = await startProvider({ redirectUri: callback, postLogoutRedirectUri: `http://127.0.0.1:${port}/signin.html` });
  server = await startTestServer(slides, {
    PORT: String(port),
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: idp.clientId,
    OIDC_CLIENT_SECRET: idp.clientSecret,
    OIDC_REDIRECT_URL: callback,
    OIDC_NAME: 'Test IdP',
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await idp?.close();
  if (slides) await rm(slides, { recursive: true, force: true });
});

describe.skipIf(!HAS_CHROMIUM)('OIDC sign-in in a browser', () => {
  it('signs in at the provider, lands signed in, sees the slide list once added to a project, and signs out at both', async () => {
    const context: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: false });
    await context.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort('blockedbyclient')));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // no session: the app sends the visitor to the sign-in page, which offers the provider
    await page.goto(`${server.url}/`);
    await page.waitForURL(/\/signin\.html\?next=/);
    const button = page.locator('[data-testid=signin-oidc]');
    await button.waitFor({ state: 'visible' });
    expect(await button.textContent()).toBe('Sign in with Test IdP');

    // the provider's own pages: login, then consent
    await button.click();
    await page.waitForURL(new RegExp(`^${idp.issuer}/interaction/`));
    await page.fill('input[name=login]', 'ada-sub');
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    await page.locator('input[name=prompt][value=consent]').waitFor({ state: 'attached' });
    await page.click('button[type=submit]');

    // back in the app, signed in as a new account with no project yet
    await page.waitForURL(`${server.url}/`);
    await expect.poll(() => page.locator('[data-testid=signed-in-as]').textContent()).toBe('Ada Lovelace');
    expect(await page.locator('[data-testid=slide-item]').count()).toBe(0);

    // a manager (here the admin) adds the account to the Default project
    const admin = server.session as Session;
    const users = (await asSession(server.url, admin, 'GET', '/api/admin/users')).body['users'] as Array<{ id: string; username: string }>;
    const ada = users.find((u) => u.username === 'ada');
    expect(ada).toBeTruthy();
    const projects = (await asSession(server.url, admin, 'GET', '/api/projects')).body['projects'] as Array<{ id: string; name: string }>;
    const def = projects.find((p) => p.name === 'Default') as { id: string };
    expect((await asSession(server.url, admin, 'PUT', `/api/projects/${def.id}/members/${ada?.id}`, { role: 'annotator' })).status).toBe(200);

    await page.reload();
    await page.locator('[data-testid=slide-item]').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid=slide-item]').count()).toBe(1);
    await expect.poll(() => page.locator('[data-testid=project]').allTextContents()).toEqual(['Default · annotator']);

    // signing out ends our session, then the provider's (its logout page), and comes back to our sign-in page
    await page.locator('[data-testid=sign-out]').click();
    await page.waitForURL(new RegExp(`^${idp.issuer}/session/end`));
    expect((await page.request.get(`${server.url}/api/slides`)).status()).toBe(401);
    await page.click('button[name=logout][value=yes]');
    await page.waitForURL(/\/signin\.html/);
    await page.locator('[data-testid=signin-oidc]').waitFor({ state: 'visible' });

    // the provider asks for a login again: its session ended too
    await page.locator('[data-testid=signin-oidc]').click();
    await page.waitForURL(new RegExp(`^${idp.issuer}/interaction/`));
    await page.locator('input[name=login]').waitFor();

    // a forged callback (not the answer to the sign-in this browser just started) lands on the sign-in page, which says what went wrong
    await page.goto(`${server.url}/api/auth/oidc/callback?code=stolen&state=guessed`);
    await page.waitForURL(`${server.url}/signin.html`);
    await expect.poll(() => page.locator('[data-testid=signin-problem]').textContent()).toMatch(/does not belong to this sign-in/);
    expect(page.url()).toBe(`${server.url}/signin.html`);
    expect(errors).toEqual([]);
    await context.close();
  });
});
