/**
 * How the client talks to the server: the session travels in its cookie
 * (same origin); a change also carries the session's CSRF token, which the
 * server set in the readable `wsi_csrf` cookie (double submit). A portal on
 * another origin gives the viewer a short-lived token instead: it travels
 * in the Authorization header, never in a URL (SEC-02).
 */

/** Bearer tokens by server origin (set by <wsi-viewer>'s `token` property). */
const tokens = new Map<string, string>();

function originOf(url: string): string {
  try {
    return new URL(url, globalThis.location?.href ?? 'http://localhost/').origin;
  } catch {
    return '';
  }
}

/** Gives (or, with null, takes back) the token requests to `server` carry. */
export function setCredential(server: string, token: string | null): void {
  const origin = originOf(server || '/');
  if (token) tokens.set(origin, token);
  else tokens.delete(origin);
}

/** The Authorization header for a request to `url`, when a token was given for its server. */
export function authHeaders(url: string): Record<string, string> {
  const token = tokens.get(originOf(url));
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** The CSRF token of this page's session, or null (no session, or not a page). */
export function csrfToken(): string | null {
  if (typeof document === 'undefined') return null;
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'wsi_csrf') return rest.join('=') || null;
  }
  return null;
}

/** Headers every change carries. */
export function changeHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = csrfToken();
  return { ...(token ? { 'X-CSRF-Token': token } : {}), ...extra };
}

/** Fired on window when the server answers 401 to a page's request: its session ended; the app asks to sign in again. */
export const SESSION_ENDED = 'wsi-session-ended';

function noteAnswer(status: number): void {
  if (status === 401 && typeof window !== 'undefined') window.dispatchEvent(new CustomEvent(SESSION_ENDED));
}

/** One way to send a change to the server: JSON with its operation id; network failures throw, HTTP answers return. */
export async function postChange<B>(url: string, opId: string, payload: unknown, signal?: AbortSignal): Promise<{ status: number; body: B }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: changeHeaders({ ...authHeaders(url), 'Content-Type': 'application/json', 'Idempotency-Key': opId }),
    body: JSON.stringify(payload),
    signal: signal ?? null,
  });
  noteAnswer(res.status);
  let body = {} as B;
  try {
    body = (await res.json()) as B;
  } catch {
    // an HTML error page from a proxy
  }
  return { status: res.status, body };
}
