import { connectivityState, status, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { AdminServiceClient } from '../../proto/gen/concord/v1/admin';
import { DocumentServiceClient } from '../../proto/gen/concord/v1/documents';
import { KvServiceClient } from '../../proto/gen/concord/v1/kv';
import { HealthClient, type ServingStatus } from './HealthClient';
import { isServiceError } from './serviceError';
import { unaryCall } from './unaryCall';

// One node address: a single channel shared by the document, KV, admin and health stubs, plus the
// connect check the retry rule relies on (a request is only sent over a READY channel).

export type ConnectOutcome = 'ready' | 'unreachable' | 'deadline';

export class NodeEndpoint {
  readonly documents: DocumentServiceClient;
  readonly admin: AdminServiceClient;
  readonly kv: KvServiceClient;
  private readonly health: HealthClient;

  constructor(
    readonly address: string,
    credentials: ChannelCredentials,
    channelOptions: ChannelOptions,
  ) {
    this.documents = new DocumentServiceClient(address, credentials, channelOptions);
    const channelOverride = this.documents.getChannel();
    this.admin = new AdminServiceClient(address, credentials, { channelOverride });
    this.kv = new KvServiceClient(address, credentials, { channelOverride });
    this.health = new HealthClient(address, credentials, { channelOverride });
  }

  /**
   * Brings the channel to READY. `unreachable` means the connection failed or did not come up
   * within `connectTimeoutMs` (so nothing can have been sent); `deadline` means the caller's
   * whole budget ran out first.
   */
  connect(deadline: number, connectTimeoutMs: number): Promise<ConnectOutcome> {
    const channel = this.documents.getChannel();
    const connectBy = Math.min(deadline, Date.now() + connectTimeoutMs);
    return new Promise((resolve) => {
      const check = (): void => {
        const state = channel.getConnectivityState(true);
        if (state === connectivityState.READY) return resolve('ready');
        if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) {
          return resolve('unreachable');
        }
        channel.watchConnectivityState(state, connectBy, (error) => {
          if (!error) return check();
          resolve(Date.now() >= deadline ? 'deadline' : 'unreachable');
        });
      };
      check();
    });
  }

  /**
   * Why the last connection attempt failed, as grpc-js reports it to a call made while the
   * channel is in TRANSIENT_FAILURE (a refused TLS handshake names its reason there; such a
   * call fails at once), or undefined. Only for error messages; never past `deadline`.
   */
  async lastConnectError(deadline: number): Promise<string | undefined> {
    if (this.documents.getChannel().getConnectivityState(false) !== connectivityState.TRANSIENT_FAILURE) return undefined;
    try {
      await unaryCall(this.health.check.bind(this.health), { service: '' }, Math.min(deadline, Date.now() + 300));
      return undefined;
    } catch (error) {
      if (!isServiceError(error) || error.code !== status.UNAVAILABLE) return undefined;
      const m = /Last error: (.*?)(?: \(\d{4}-[^)]*\))?\.? Resolution note/s.exec(error.details);
      return m?.[1]?.replace(/\s+/g, ' ').trim();
    }
  }

  /**
   * Asks grpc.health.v1 for the overall service (""). Waits for the connection within the
   * deadline, so a node that just came back is seen even while the channel is reconnecting.
   * A node without the health service (UNIMPLEMENTED) answered, so it counts as serving.
   */
  async probe(deadlineMs: number): Promise<ServingStatus | 'UNREACHABLE'> {
    try {
      const check = this.health.check.bind(this.health);
      const response = await unaryCall(check, { service: '' }, Date.now() + deadlineMs, { waitForReady: true });
      return response.status;
    } catch (error) {
      if (isServiceError(error) && error.code === status.UNIMPLEMENTED) return 'SERVING';
      return 'UNREACHABLE';
    }
  }

  close(): void {
    // The stubs share one channel; closing it once releases the connection.
    this.documents.getChannel().close();
  }
}
