/**
 * The Host allowlist: the defence against DNS rebinding. A page on
 * attacker.example can make its own name resolve to 127.0.0.1 and then
 * read this server from the victim's browser as if same-origin; the one
 * thing it cannot change is the Host header, which names attacker.example.
 * So only the names this server is known by are served: the loopback
 * names, the host it is bound to, PUBLIC_URL's host, and ALLOWED_HOSTS.
 * Any other Host is refused with 421 HOST_NOT_ALLOWED before routing.
 *
 * An entry without a port allows that name with any port (a development
 * proxy forwards Host: localhost:5173), an entry with a port only that
 * port. "*" turns the check off (for a proxy that checks Host itself).
 */
import { WsiError } from '../../src/core/errors.js';

export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

interface HostName {
  name: string;
  port: number | null;
}

/** A Host header value (or an ALLOWED_HOSTS entry) as name and port; null when malformed. */
export function parseHost(value: string): HostName | null {
  const v = value.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]{0,252}[a-z0-9])?\.?|[a-z0-9])(?::(\d{1,5}))?$/.exec(v);
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  return { name: (m[1] as string).replace(/\.$/, ''), port };
}

/** The name a bound address is reached by, in Host form; null for the wildcard addresses. */
export function boundHostName(host: string): string | null {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === '' || h === '0.0.0.0' || h === '::' || h === '0:0:0:0:0:0:0:0') return null;
  return h.includes(':') ? `[${h}]` : h;
}

export class HostAllowlist {
  private readonly any: boolean;
  private readonly names = new Map<string, Set<number> | 'any-port'>();

  constructor(entries: string[]) {
    this.any = entries.includes('*');
    for (const e of entries) {
      if (e === '*') continue;
      const h = parseHost(e);
      if (!h) throw new Error(`ALLOWED_HOSTS: "${e}" is not a host name, IPv4 address or [IPv6] address with an optional :port`);
      const had = this.names.get(h.name);
      if (h.port === null || had === 'any-port') this.names.set(h.name, 'any-port');
      else this.names.set(h.name, new Set([...(had ?? []), h.port]));
    }
  }

  /** The list the server uses: loopback names, the bound host, PUBLIC_URL's host and the configured ones. */
  static forServer(configured: string[], bindHost: string, publicUrl: string): HostAllowlist {
    const bound = boundHostName(bindHost);
    return new HostAllowlist([...LOOPBACK_NAMES, ...(bound ? [bound] : []), new URL(publicUrl).host, ...configured]);
  }

  get allowsAny(): boolean {
    return this.any;
  }

  /** Entries in the form ALLOWED_HOSTS takes. */
  describe(): string[] {
    if (this.any) return ['*'];
    return [...this.names].map(([name, ports]) => (ports === 'any-port' ? name : [...ports].map((p) => `${name}:${p}`).join(', ')));
  }

  allows(header: string | undefined): boolean {
    if (this.any) return true;
    // browsers always send Host; only an HTTP/1.0 tool can leave it out, and it is no rebinding vector
    if (header === undefined) return true;
    const h = parseHost(header);
    if (!h) return false;
    const ports = this.names.get(h.name);
    if (ports === undefined) return false;
    return ports === 'any-port' || (h.port !== null && ports.has(h.port));
  }

  /** Throws 421 HOST_NOT_ALLOWED for a Host this server is not known by. */
  check(header: string | undefined): void {
    if (this.allows(header)) return;
    throw new WsiError(
      'HOST_NOT_ALLOWED',
      'this server does not answer to the host name in the request (a protection against DNS rebinding). An administrator can add the name the server is reached by to ALLOWED_HOSTS, or set PUBLIC_URL',
    );
  }
}
