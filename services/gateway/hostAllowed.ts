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
  if (host === undefined || host === '') return false;
  const name = hostName(host).toLowerCase();
  if (name === '') return false;
  if (isIP(name) !== 0) return true;
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  return allowedHosts.some((a) => a === '*' || a.toLowerCase() === name);
}

/** The name in a Host header without its port (`[::1]:8080` is `::1`). */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? '' : host.slice(1, end);
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}
