import { bytesReplacer, bytesReviver } from './jsonBytes';
import { KvCommand } from './types';

/** Log entry payload of a KV command: JSON, with bytes as base64. Every encode has its decode. */
export function encodeCommand(cmd: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(cmd, bytesReplacer));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(new TextDecoder().decode(data), bytesReviver) as KvCommand;
}
