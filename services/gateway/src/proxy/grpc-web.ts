/**
 * gRPC-web wire details (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md):
 * messages keep gRPC's length-prefixed framing, trailers travel as one last frame
 * whose flag byte has the high bit set, and the "-text" variants base64-encode
 * the whole body.
 */

import { status } from '@grpc/grpc-js';

export type Protocol = 'grpc' | 'grpc-web' | 'grpc-web-text';

/** Which protocol a request speaks, from its content-type; undefined if it is not gRPC at all. */
export function protocolOf(contentType: string | undefined): Protocol | undefined {
  if (!contentType) return undefined;
  return GRPC_WEB_TYPES.get(contentType) ?? (isGrpcContentType(contentType) ? 'grpc' : undefined);
}

/** Envoy's Grpc::Common::hasGrpcContentType: application/grpc, or application/grpc+ a subtype; application/grpc-web is not gRPC. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.startsWith('application/grpc') && (contentType.length === 16 || contentType.charCodeAt(16) === 43 /* '+' */);
}

/** The four content-types Envoy's grpc_web filter translates, compared exactly as it compares them. */
const GRPC_WEB_TYPES = new Map<string, Protocol>([
  ['application/grpc-web', 'grpc-web'],
  ['application/grpc-web+proto', 'grpc-web'],
  ['application/grpc-web-text', 'grpc-web-text'],
  ['application/grpc-web-text+proto', 'grpc-web-text'],
]);

/** Those content-types, as a refusal names them. */
export const GRPC_WEB_CONTENT_TYPES: readonly string[] = [...GRPC_WEB_TYPES.keys()];

/**
 * How a call's answer is encoded, as Envoy's grpc_web filter decides it: native gRPC stays
 * gRPC; a gRPC-web answer is base64 text only when the caller's Accept header asks for
 * exactly that, whichever encoding its request used.
 */
export function answerProtocol(protocol: Protocol, accept: string | undefined): Protocol {
  if (protocol === 'grpc') return 'grpc';
  return accept === 'application/grpc-web-text' || accept === 'application/grpc-web-text+proto' ? 'grpc-web-text' : 'grpc-web';
}

// By answer protocol, then by the request's content-type.
const responseTypes: Record<Protocol, Map<string, string>> = { grpc: new Map(), 'grpc-web': new Map(), 'grpc-web-text': new Map() };

/** The content-type an answer encoded as `answer` (see {@link answerProtocol}) carries, for a request of `requestContentType`. */
export function responseContentType(answer: Protocol, requestContentType: string): string {
  // Callers send a handful of distinct content-types; remember a few answers.
  const types = responseTypes[answer];
  const known = types.get(requestContentType);
  if (known !== undefined) return known;
  const contentType = computeResponseContentType(answer, requestContentType);
  if (types.size < 64) types.set(requestContentType, contentType);
  return contentType;
}

function computeResponseContentType(protocol: Protocol, requestContentType: string): string {
  const suffix = /\+(\w+)/.exec(requestContentType)?.[1] ?? 'proto';
  if (protocol === 'grpc-web-text') return `application/grpc-web-text+${suffix}`;
  if (protocol === 'grpc-web') return `application/grpc-web+${suffix}`;
  return 'application/grpc';
}

/** Encodes trailers as gRPC-web's final frame: 0x80, a 4-byte length, then "name:value\r\n" lines. */
export function trailerFrame(trailers: Record<string, string>): Buffer {
  let text = '';
  for (const k in trailers) text += `${k}:${trailers[k]}\r\n`;
  const frame = Buffer.allocUnsafe(5 + Buffer.byteLength(text, 'latin1'));
  frame[0] = 0x80;
  frame.writeUInt32BE(frame.length - 5, 1);
  frame.write(text, 5, 'latin1');
  return frame;
}

/**
 * Base64-encodes a byte stream chunk by chunk for grpc-web-text without padding in
 * the middle: bytes that do not fill a 3-byte group wait for the next chunk.
 */
export class Base64Chunker {
  private carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): string {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = data.length - (data.length % 3);
    this.carry = data.subarray(whole);
    return data.subarray(0, whole).toString('base64');
  }

  flush(): string {
    const rest = this.carry.toString('base64');
    this.carry = Buffer.alloc(0);
    return rest;
  }
}

/** Four base64 characters, padded or not: the unit a grpc-web-text body is decoded in. */
const BASE64_GROUPS = /^(?:[A-Za-z0-9+/]{2}(?:[A-Za-z0-9+/]{2}|[A-Za-z0-9+/]=|==))*$/;

/**
 * Decodes a grpc-web-text request body, which may be several padded base64 pieces back to
 * back; undefined when it is not base64 in whole groups of four, which Envoy's grpc_web
 * filter refuses ("Bad gRPC-web request, invalid base64 data.").
 */
export function decodeTextBody(body: Buffer): Buffer | undefined {
  const text = body.toString('latin1');
  if (!BASE64_GROUPS.test(text)) return undefined;
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i += 4) {
    if (text[i + 3] === '=' || i + 4 >= text.length) {
      parts.push(Buffer.from(text.slice(start, i + 4), 'base64'));
      start = i + 4;
    }
  }
  return Buffer.concat(parts);
}

/** Parses a grpc-timeout header value ("100m", "5S", "1H") into milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const factor: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return n * factor[m[2]];
}

/** gRPC's mapping of an HTTP status to a gRPC one (doc/http-grpc-status-mapping.md), as Envoy applies it to local replies and to answers without a grpc-status. */
const GRPC_STATUS_FOR_HTTP: Partial<Record<number, status>> = {
  400: status.INTERNAL,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.UNIMPLEMENTED,
  429: status.UNAVAILABLE,
  502: status.UNAVAILABLE,
  503: status.UNAVAILABLE,
  504: status.UNAVAILABLE,
};

/** The gRPC status for an HTTP status; any status the mapping does not name is UNKNOWN. */
export function grpcStatusForHttp(httpStatus: number): status {
  return GRPC_STATUS_FOR_HTTP[httpStatus] ?? status.UNKNOWN;
}
