// The address a gateway reports: the one it listens on, except a wildcard, shown as loopback
// (a browser cannot open http://0.0.0.0).
import { gatewayUrl } from '../../services/gateway/startGateway';

test('a wildcard is shown as loopback; any other host as it is, IPv6 in brackets', () => {
  expect(gatewayUrl('http', '0.0.0.0', 8080)).toBe('http://127.0.0.1:8080/');
  expect(gatewayUrl('https', '::', 443)).toBe('https://[::1]:443/');
  expect(gatewayUrl('http', '127.0.0.1', 1)).toBe('http://127.0.0.1:1/');
  expect(gatewayUrl('https', '10.0.0.5', 8443)).toBe('https://10.0.0.5:8443/');
  expect(gatewayUrl('http', '::1', 80)).toBe('http://[::1]:80/');
});
