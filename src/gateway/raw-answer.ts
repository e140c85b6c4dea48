/**
 * An error answer written straight to a socket, for the places where no HTTP response object exists:
 * a refused WebSocket upgrade, and requests Node itself could not parse or that were too slow. It is
 * the contract's envelope with the table's status, and the connection closes after it.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeErrorEnvelope, ERROR_CODES, type AppError } from '../protocol/index.js';

export function writeErrorAnswer(socket: Duplex, error: AppError): void {
  if (socket.destroyed) return;
  const status = ERROR_CODES[error.code].http;
  const body = encodeErrorEnvelope(error);
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (error.retryAfter !== undefined) headers.push(`Retry-After: ${error.retryAfter}`);
  if (socket.writable) socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
  else socket.destroy();
}
