import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { AdminServiceClient, LedgerResponse, LinkFault, SetLinkFaultsResponse, StatusResponse } from '../../proto/gen/concord/v1/admin';
import { Metadata } from '@grpc/grpc-js';
import {
  ApplyRequest,
  DocumentServiceClient,
  GetRequest,
  GetResponse,
  ListRequest,
  ListResponse,
  PushUpdateRequest,
  WriteResponse,
} from '../../proto/gen/concord/v1/documents';
import { callUnary } from '../../services/node/callUnary';

/** Promise-returning generated stubs aimed at one node (no balancing: tests pick the node). */
export interface NodeStubs {
  apply(req: Partial<ApplyRequest>, deadlineMs?: number): Promise<WriteResponse>;
  pushUpdate(req: Partial<PushUpdateRequest>, deadlineMs?: number): Promise<WriteResponse>;
  get(req: Partial<GetRequest>, deadlineMs?: number): Promise<GetResponse>;
  list(req: Partial<ListRequest>, deadlineMs?: number): Promise<ListResponse>;
  status(deadlineMs?: number): Promise<StatusResponse>;
  setLinkFaults(faults: LinkFault[], replace: boolean, token?: string): Promise<SetLinkFaultsResponse>;
  ledger(): Promise<LedgerResponse>;
  readonly docs: DocumentServiceClient;
  close(): void;
}

export function nodeStubs(address: string, creds: ChannelCredentials = credentials.createInsecure()): NodeStubs {
  const options = { 'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20 };
  const docs = new DocumentServiceClient(address, creds, options);
  const admin = new AdminServiceClient(address, creds);
  const applyDefaults = { documentId: '', operations: [], ack: 0 };
  return {
    docs,
    apply: (req, ms = 5000) => callUnary(docs.apply.bind(docs), { ...applyDefaults, ...req }, ms),
    pushUpdate: (req, ms = 5000) => callUnary(docs.pushUpdate.bind(docs), { documentId: '', update: new Uint8Array(), ack: 0, ...req }, ms),
    get: (req, ms = 5000) => callUnary(docs.get.bind(docs), {
      documentId: '', minVersion: new Uint8Array(), stateVector: new Uint8Array(), includeUpdate: false, ...req,
    }, ms),
    list: (req, ms = 5000) => callUnary(docs.list.bind(docs), { prefix: '', startAfter: '', limit: 0, ...req }, ms),
    status: (ms = 5000) => callUnary(admin.status.bind(admin), {}, ms),
    setLinkFaults: (faults, replace, token = 'test-admin-token') => {
      const md = new Metadata();
      if (token !== '') md.set('authorization', `Bearer ${token}`);
      return callUnary(admin.setLinkFaults.bind(admin), { faults, replace }, 5000, md);
    },
    ledger: () => callUnary(admin.ledger.bind(admin), { limit: 20 }, 5000),
    close: () => {
      docs.close();
      admin.close();
    },
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes (then fails with `what`). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The gRPC status a call ended with (OK when it succeeded), for asserting on refusals. */
export async function codeOf(p: Promise<unknown>): Promise<{ code: number; details: string; metadata?: { get(k: string): unknown[] } }> {
  try {
    await p;
  } catch (err) {
    return err as { code: number; details: string };
  }
  return { code: status.OK, details: '' };
}
