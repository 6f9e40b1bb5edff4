// The gateway's defence against DNS rebinding: a request must name it by an IP address,
// localhost, or a name the operator allowed.
import { hostAllowed, parseAllowedHosts } from '../../services/gateway/hostAllowed';

test('IP addresses and localhost are allowed, with or without a port', () => {
  for (const host of ['127.0.0.1', '127.0.0.1:8080', '192.168.1.20:8080', '[::1]:8080', '[fe80::1]', 'localhost', 'LOCALHOST:8080', 'demo.localhost:3000']) {
    expect([host, hostAllowed(host, [])]).toEqual([host, true]);
  }
});

test('any other name is refused unless listed; a missing or malformed Host is refused', () => {
  for (const host of ['evil.example', 'evil.example:8080', 'localhost.evil.example', '127.0.0.1.nip.io', 'laptop.local:8080', '[::1', '[::1]evil.example', '', undefined]) {
    expect([host, hostAllowed(host, [])]).toEqual([host, false]);
  }
  expect(hostAllowed('Laptop.Local:8080', ['laptop.local'])).toBe(true);
  expect(hostAllowed('other.local', ['laptop.local'])).toBe(false);
  expect(hostAllowed('anything.example', ['*'])).toBe(true);
  expect(hostAllowed('laptop.local.:8080', ['laptop.local'])).toBe(true);
});

test('allowed hosts are taken as names: a port, case and a trailing dot are ignored', () => {
  const allowed = parseAllowedHosts(' Laptop.Local:8080, tunnel.example. ,, * ');
  expect(allowed).toEqual(['laptop.local', 'tunnel.example', '*']);
  expect(hostAllowed('laptop.local:9000', parseAllowedHosts('laptop.local:8080'))).toBe(true);
  expect(parseAllowedHosts(undefined)).toEqual([]);
});
