// The sign-in page, and the first administrator's setup when opened from the
// one-time link the server prints at its first start (#setup=<token>). The
// token stays in the fragment, so it never reaches a server log. A plain
// module without a build step: it must work before the app can load.
const $ = (id) => document.getElementById(id);
const setupToken = /(?:^#|&)setup=([A-Za-z0-9_-]{20,})/.exec(location.hash)?.[1] ?? null;
const next = (() => {
  const n = new URLSearchParams(location.search).get('next');
  // only a path of this site: never an open redirect
  return n && /^\/(?![/\\])/.test(n) ? n : '/';
})();

// a setup link opened while this page is open changes only the fragment: read the page again
addEventListener('hashchange', () => location.reload());

if (setupToken) {
  $('title').textContent = 'Create the administrator';
  $('intro').hidden = false;
  $('hint').hidden = false;
  $('password').autocomplete = 'new-password';
  $('submit').textContent = 'Create and sign in';
}

async function send(path, body) {
  const res = await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  let answer = {};
  try {
    answer = await res.json();
  } catch {
    // not JSON (a proxy's page)
  }
  return { ok: res.ok, code: answer.code, message: answer.message ?? `${res.status} ${res.statusText}` };
}

$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('problem').textContent = '';
  $('submit').disabled = true;
  try {
    const username = $('username').value.trim();
    const password = $('password').value;
    const r = setupToken
      ? await send('/api/auth/setup', { token: setupToken, username, password })
      : await send('/api/auth/session', { username, password, ...($('totp').value ? { totp: $('totp').value.trim() } : {}) });
    if (r.ok) {
      // the setup token is spent: drop it from the address bar and history
      location.replace(setupToken ? '/' : next);
      return;
    }
    if (r.code === 'TOTP_REQUIRED') $('totp-row').hidden = false;
    $('problem').textContent = r.message;
  } catch (err) {
    $('problem').textContent = `The server could not be reached (${err.message}); try again.`;
  } finally {
    $('submit').disabled = false;
  }
});
