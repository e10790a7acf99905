/**
 * TOTP second factor (RFC 6238 through otplib): 6 digits, 30 s steps, one
 * step of clock drift either way, and a code is never accepted twice: the
 * last accepted time step is kept and later codes must be newer.
 */
import { generateSecret, generateURI, verify } from 'otplib';

export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, account: string): string {
  return generateURI({ issuer: 'WSI Annotate', label: account, secret });
}

/** The time step a code was accepted at, or null. Refuses steps at or before `lastStep` (replays). */
export async function checkTotp(secret: string, code: string, lastStep: number, epochSeconds?: number): Promise<number | null> {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return null;
  try {
    const result = await verify({ strategy: 'totp', secret, token: code, epochTolerance: 30, ...(lastStep > 0 ? { afterTimeStep: lastStep } : {}), ...(epochSeconds !== undefined ? { epoch: epochSeconds } : {}) });
    return result.valid && 'timeStep' in result ? (result as { timeStep: number }).timeStep : null;
  } catch {
    return null;
  }
}
