import { isIP } from 'node:net';

/**
 * Whether a request's Host header names this gateway in a way no other site can: an IP
 * address, `localhost` (or a name under it), or a name the operator listed (`*` lists every
 * name). The gateway signs admin calls with the cluster's token, and a page served by any other
 * site can reach it through DNS rebinding (its own name resolving to this gateway's address,
 * which makes the page same-origin): such a request carries that site's name, never one of
 * these. The same defence as webpack-dev-server's and Vite's allowed hosts.
 */
export function hostAllowed(host: string | undefined, allowedHosts: readonly string[]): boolean {
  const name = host === undefined ? '' : hostName(host);
  if (name === '') return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowedHosts.some((a) => a === '*' || hostName(a) === name);
}

/**
 * The name in a Host header (or an allowed-hosts entry) without its port, lower case, without
 * a trailing dot (`[::1]:8080` is `::1`, `Laptop.Local.:80` is `laptop.local`); '' when malformed.
 */
export function hostName(host: string): string {
  if (host.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
    return m === null ? '' : (m[1] as string).toLowerCase();
  }
  const colon = host.lastIndexOf(':');
  const name = colon < 0 ? host : host.slice(0, colon);
  return name.toLowerCase().replace(/\.$/, '');
}

/** `--allowed-hosts` / CONCORD_ALLOWED_HOSTS: names separated by commas (ports, case and a trailing dot ignored). */
export function parseAllowedHosts(list: string | undefined): string[] {
  return (list ?? '').split(',').map((h) => h.trim()).filter(Boolean).map((h) => (h === '*' ? h : hostName(h))).filter(Boolean);
}
