/** bytea text (`\x0a0b` hex output, or the legacy `escape` output) → bytes. */

export function parseBytea(text: string): Buffer {
  if (text.startsWith('\\x')) {
    const hex = text.slice(2);
    if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`cannot parse bytea hex text "${text.slice(0, 64)}"`);
    return Buffer.from(hex, 'hex');
  }
  // bytea_output = escape: printable bytes as is, "\\" for a backslash, "\ooo" octal otherwise.
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 92) {
      out.push(c);
      continue;
    }
    if (text.charCodeAt(i + 1) === 92) {
      out.push(92);
      i++;
      continue;
    }
    const oct = text.slice(i + 1, i + 4);
    if (!/^[0-3][0-7]{2}$/.test(oct)) throw new Error(`cannot parse bytea escape text at offset ${i}: "${text.slice(0, 64)}"`);
    out.push(parseInt(oct, 8));
    i += 3;
  }
  return Buffer.from(out);
}
