import type { X509Certificate } from 'node:crypto';
import { METRIC_TLS_CERTIFICATE_NOT_AFTER } from './names';
import { meter, metricsEnabled } from './tracing';

/**
 * The expiry of the certificate a mutual-TLS node serves now (it follows rotations), as a Unix
 * time in seconds, read at scrape time: alert on `concord_tls_certificate_not_after - time()`.
 * Returns the unregister function (a no-op when metrics are off).
 */
export function observeCertificate(current: () => X509Certificate): () => void {
  if (!metricsEnabled()) return () => undefined;
  const gauge = meter().createObservableGauge(METRIC_TLS_CERTIFICATE_NOT_AFTER, { description: 'When the certificate this node serves expires (Unix time)', unit: 's' });
  const callback = (r: { observe(value: number): void }): void => r.observe(Date.parse(current().validTo) / 1000);
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
