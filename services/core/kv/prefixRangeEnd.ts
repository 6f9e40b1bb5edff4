/**
 * The first key after every key that starts with `prefix`, as etcd computes it: the last
 * character incremented, trailing '\uffff' dropped; '\u0000' (no end) when nothing is left.
 * Keys compare as JS strings (UTF-16 code units), as in the node's store.
 */
export function prefixRangeEnd(prefix: string): string {
  for (let end = prefix.length; end > 0; end--) {
    const unit = prefix.charCodeAt(end - 1);
    if (unit === 0xffff) continue;
    const result = prefix.slice(0, end - 1) + String.fromCharCode(unit + 1);
    // A lone surrogate would not survive UTF-8 on the wire and the range would silently change:
    // anywhere in the result (a pair whose low half was U+DFFF leaves its high half alone).
    if (loneSurrogate.test(result)) {
      throw new RangeError(`no prefix range for a key ending in U+${unit.toString(16)}`);
    }
    return result;
  }
  return '\u0000';
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;
