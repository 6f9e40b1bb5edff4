import {
  DigestRequest,
  DigestResponse,
  PushDiffRequest,
  PushDiffResponse,
  SyncRequest,
  SyncResponse,
} from '../../../proto/gen/concord/v1/peer';
import { AntiEntropy, AntiEntropyPeer } from '../../../services/node/AntiEntropy';
import { Endpoint, SimNetwork } from './SimNetwork';

/** The part of a ts-proto message object the simulator uses. */
interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/**
 * The AntiEntropyPeer port for `from` talking to replica `to` over the simulated network: each
 * call is a request to the responder methods of whatever incarnation of `to` runs when it
 * arrives, and a reply back. Messages go through their protobuf encoding, as over gRPC, so a
 * sender that mutates its buffers after a send (the digest buckets are live) cannot leak the
 * change into a message already in flight.
 */
export function simAntiEntropyPeer(
  network: SimNetwork,
  from: Endpoint,
  to: string,
  responder: (receiver: Endpoint) => AntiEntropy,
  timeoutTicks: number,
): AntiEntropyPeer {
  function call<Req, Res>(reqCodec: Codec<Req>, resCodec: Codec<Res>, req: Req, answer: (ae: AntiEntropy, r: Req) => Res | Promise<Res>): Promise<Res> {
    const reqBytes = reqCodec.encode(req).finish();
    return network
      .call(from, to, async (receiver) => resCodec.encode(await answer(responder(receiver), reqCodec.decode(reqBytes))).finish(), timeoutTicks)
      .then((resBytes) => resCodec.decode(resBytes));
  }
  // The real deadline is replaced by the simulated timeout: no wall clock in a run.
  return {
    digest: (req) => call<DigestRequest, DigestResponse>(DigestRequest, DigestResponse, req, (ae, r) => ae.answerDigest(r)),
    sync: (req) => call<SyncRequest, SyncResponse>(SyncRequest, SyncResponse, req, (ae, r) => ae.answerSync(r)),
    pushDiff: (req) => call<PushDiffRequest, PushDiffResponse>(PushDiffRequest, PushDiffResponse, req, (ae, r) => ae.acceptPushDiff(r)),
  };
}
