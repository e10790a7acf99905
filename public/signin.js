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

// why an OIDC sign-in came back without a session (the server's codes: tiles-server/identity/oidc-sign-in.ts)
const OIDC_PROBLEMS = {
  unreachable: 'The identity provider cannot be reached just now. Try again in a moment; if you are signed in elsewhere, that session goes on.',
  expired: 'That sign-in took too long or was started in another browser. Please start again.',
  state: 'The answer from the identity provider does not belong to this sign-in. Please start again.',
  used: 'That sign-in answer was used already. Please start again.',
  denied: 'The identity provider did not sign you in (cancelled or refused).',
  code: 'The identity provider refused the sign-in code (used or expired). Please start again.',
  invalid: 'The answer from the identity provider did not check out, so you were not signed in. Tell your administrator if this keeps happening.',
  disabled: 'Your account is disabled. Ask an administrator.',
};
const oidcProblem = new URLSearchParams(location.search).get('oidc');
if (oidcProblem) {
  $('problem').textContent = OIDC_PROBLEMS[oidcProblem] ?? 'Signing in with the identity provider failed. Please start again.';
  // the message is shown: a reload should not show it again
  const clean = new URL(location.href);
  clean.searchParams.delete('oidc');
  history.replaceState(null, '', clean.pathname + clean.search);
}

if (!setupToken) {
  fetch('/api/auth/status')
    .then((r) => (r.ok ? r.json() : null))
    .then((s) => {
      if (!s?.oidc) return;
      $('oidc').textContent = `Sign in with ${s.oidcName}`;
      $('oidc').href = `/api/auth/oidc/start?next=${encodeURIComponent(next)}`;
      $('oidc-row').hidden = false;
    })
    .catch(() => undefined);
}

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
