import { inflateSync } from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// PDF reading helper. pdfkit compresses every content stream (FlateDecode) and writes text with
// the standard Helvetica as hex strings of WinAnsi (Windows-1252) codes inside TJ arrays, split
// by kerning numbers: `[<50696e67fc696e6f73> 30 <...>] TJ`. This inflates each stream with
// node:zlib and decodes those strings, so tests read the PDF exactly as produced (compressed).
// ---------------------------------------------------------------------------------------------

export interface PdfDocumentText {
  /** Page objects (`/Type /Page`). */
  pages: number;
  /** Decoded text of each content stream that has text, in file order (one per page here). */
  streams: string[];
  /** Image XObjects embedded. */
  images: number;
}

const winAnsi = new TextDecoder('windows-1252');

function decodePdfString(token: string): string {
  if (token.startsWith('<')) return winAnsi.decode(Buffer.from(token.slice(1, -1), 'hex'));
  // Literal string `( … )` with backslash escapes.
  const body = token.slice(1, -1).replace(/\\([nrtbf()\\]|[0-7]{1,3})/g, (_m, escape: string) => {
    const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', '(': '(', ')': ')', '\\': '\\' };
    return map[escape] ?? String.fromCharCode(parseInt(escape, 8));
  });
  return winAnsi.decode(Buffer.from(body, 'latin1'));
}

/** Text drawn by the TJ / Tj operators of one content stream; one TJ/Tj = one line of the result. */
function textOperators(content: string): string {
  const lines: string[] = [];
  const operator =
    /\[((?:<[0-9a-fA-F]*>|\((?:\\.|[^\\)])*\)|[^\]])*)\]\s*TJ|(<[0-9a-fA-F]*>|\((?:\\.|[^\\)])*\))\s*Tj/g;
  for (const match of content.matchAll(operator)) {
    if (match[1] !== undefined) {
      const pieces = match[1].match(/<[0-9a-fA-F]*>|\((?:\\.|[^\\)])*\)/g) ?? [];
      lines.push(pieces.map(decodePdfString).join(''));
    } else {
      lines.push(decodePdfString(match[2]!));
    }
  }
  return lines.join('\n');
}

export function readPdf(pdf: Buffer): PdfDocumentText {
  const latin = pdf.toString('latin1');
  const streams: string[] = [];
  let images = 0;
  const streamStart = /<<((?:[^<>]|<<(?:[^<>]|<<[^<>]*>>)*>>|<[0-9a-fA-F]*>)*)>>\s*stream\r?\n/g;
  for (const match of latin.matchAll(streamStart)) {
    const dictionary = match[1]!;
    const length = Number(/\/Length\s+(\d+)/.exec(dictionary)?.[1]);
    const start = match.index + match[0].length;
    if (/\/Subtype\s*\/Image/.test(dictionary)) images += 1;
    if (!Number.isFinite(length)) continue;
    const raw = pdf.subarray(start, start + length);
    let data: Buffer;
    try {
      data = /\/FlateDecode/.test(dictionary) ? inflateSync(raw) : raw;
    } catch {
      continue; // image data with another filter (DCTDecode)
    }
    const text = textOperators(data.toString('latin1'));
    if (text.length > 0) streams.push(text);
  }
  return { pages: (latin.match(/\/Type\s*\/Page(?!s)\b/g) ?? []).length, streams, images };
}
