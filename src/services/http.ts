/** One way to send a change to the server: JSON with its operation id; network failures throw, HTTP answers return. */
export async function postChange<B>(url: string, opId: string, payload: unknown, signal?: AbortSignal): Promise<{ status: number; body: B }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Idempotency-Key': opId },
    body: JSON.stringify(payload),
    signal: signal ?? null,
  });
  let body = {} as B;
  try {
    body = (await res.json()) as B;
  } catch {
    // an HTML error page from a proxy
  }
  return { status: res.status, body };
}
