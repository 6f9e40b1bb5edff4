/** Byte counters of document data moved between nodes (exposed by AdminService.Status). */
export class TrafficStats {
  pushBytesReceived = 0;
  antiEntropyBytesReceived = 0;
  antiEntropyBytesSent = 0;
  antiEntropyRounds = 0;
  antiEntropyDirectedRounds = 0;
  catchUpBytesReceived = 0;
}
