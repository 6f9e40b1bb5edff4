// Proves the gRPC-Web framing shared by the gateway and the phone app: frames survive any split
// into chunks, trailers round-trip, status messages survive percent-encoding, and malformed
// input (compressed frames, frames over the limit, truncation) is refused, not misread.
import {
  decodeGrpcMessage,
  encodeFrame,
  encodeGrpcMessage,
  encodeTrailerFrame,
  FrameDecoder,
  FramingError,
  parseTrailers,
} from '../../services/gateway/grpcWebFraming';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

test('a data frame is the flag, the big-endian length and the payload', () => {
  expect([...encodeFrame(bytes(1, 2, 3))]).toEqual([0, 0, 0, 0, 3, 1, 2, 3]);
  expect([...encodeFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
  const big = encodeFrame(new Uint8Array(0x010203));
  expect([...big.subarray(0, 5)]).toEqual([0, 0, 1, 2, 3]);
});

test('frames come out whole however the stream is cut into chunks', () => {
  const stream = new Uint8Array([...encodeFrame(bytes(7)), ...encodeFrame(bytes(8, 9)), ...encodeTrailerFrame([['grpc-status', '0']])]);
  for (let cut1 = 0; cut1 <= stream.length; cut1++) {
    for (let cut2 = cut1; cut2 <= stream.length; cut2++) {
      const decoder = new FrameDecoder();
      const frames = [stream.subarray(0, cut1), stream.subarray(cut1, cut2), stream.subarray(cut2)].flatMap((c) => decoder.push(c));
      expect(frames.map((f) => [f.trailer, [...f.payload]])).toEqual([[false, [7]], [false, [8, 9]], [true, [...new TextEncoder().encode('grpc-status: 0\r\n')]]]);
      expect(decoder.pendingBytes).toBe(0);
    }
  }
});

test('trailers round-trip, lowercased, repeated keys joined', () => {
  const frame = encodeTrailerFrame([['grpc-status', '14'], ['Concord-Reachable-Voters', 'n1,n2'], ['x-a', '1'], ['x-a', '2']]);
  expect(frame[0]).toBe(0x80);
  const [decoded] = new FrameDecoder().push(frame);
  expect(decoded?.trailer).toBe(true);
  const trailers = parseTrailers(decoded!.payload);
  expect(Object.fromEntries(trailers)).toEqual({ 'grpc-status': '14', 'concord-reachable-voters': 'n1,n2', 'x-a': '1, 2' });
});

test('a status message survives percent-encoding, including non-ASCII and "%"', () => {
  for (const message of ['no quorum: this node reaches 1 of 3 voters (n1)', '100% → naïve 💥', 'line\r\nbreak']) {
    const encoded = encodeGrpcMessage(message);
    expect(encoded).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeGrpcMessage(encoded)).toBe(message);
  }
  expect(decodeGrpcMessage('100%')).toBe('100%'); // a peer that did not encode: shown as it came
});

test('compressed frames, frames over the limit and truncated streams are refused', () => {
  expect(() => new FrameDecoder().push(bytes(1, 0, 0, 0, 1, 5))).toThrow(FramingError);
  expect(() => new FrameDecoder(10).push(bytes(0, 0, 0, 0, 11))).toThrow(/over the limit/);
  const decoder = new FrameDecoder();
  expect(decoder.push(encodeFrame(bytes(1, 2, 3)).subarray(0, 6))).toEqual([]);
  expect(decoder.pendingBytes).toBe(6);
});
