/** The reply bytes for a request, dispatched on the protocol it arrived in. */
import { encodeBinaryReply } from './binary-encoder.js';
import type { AnyFormat } from './formats.js';
import { encodeMetaReply } from './meta-encoder.js';
import type { Answer, Request } from './request.js';
import { encodeTextReply } from './text-encoder.js';

/**
 * The bytes to send for `request` given the server's `answer`; null sends nothing
 * (noreply, quiet success, binary quiet miss, quit). For kind 'error' this is the
 * request's own reply (or null when empty).
 */
export function encodeReply(request: Request, answer: Answer): Buffer | null {
  if (request.kind === 'error') return request.reply.length > 0 ? request.reply : null;
  const format = request.format as AnyFormat;
  switch (format.protocol) {
    case 'text':
      return encodeTextReply(request, format, answer);
    case 'meta':
      return encodeMetaReply(request, format, answer);
    case 'binary':
      return encodeBinaryReply(request, format, answer);
  }
}
