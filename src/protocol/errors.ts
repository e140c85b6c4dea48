/**
 * The one error-code vocabulary of GoChat, shared by HTTP, WebSocket and gRPC.
 * `http` is the HTTP status, `grpc` the gRPC status code, `retryable` tells a client
 * whether the same request may succeed later unchanged.
 *
 * @example
 * ```ts
 * throw new AppError('NOT_CONVERSATION_MEMBER');
 * ERROR_CODES.NOT_CONVERSATION_MEMBER.http; // 403
 * ```
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: { http: 400, grpc: 3, retryable: false, message: 'Request validation failed' },
  INVALID_JSON: { http: 400, grpc: 3, retryable: false, message: 'Body is not valid JSON' },
  UNAUTHORIZED: { http: 401, grpc: 16, retryable: false, message: 'Authentication required' },
  TOKEN_EXPIRED: { http: 401, grpc: 16, retryable: false, message: 'Token has expired' },
  TOKEN_REVOKED: { http: 401, grpc: 16, retryable: false, message: 'Token has been revoked' },
  INVALID_CREDENTIALS: { http: 401, grpc: 16, retryable: false, message: 'Invalid username or password' },
  FORBIDDEN: { http: 403, grpc: 7, retryable: false, message: 'Not allowed' },
  NOT_CONVERSATION_MEMBER: { http: 403, grpc: 7, retryable: false, message: 'Not a member of this conversation' },
  USER_NOT_FOUND: { http: 404, grpc: 5, retryable: false, message: 'User not found' },
  CONVERSATION_NOT_FOUND: { http: 404, grpc: 5, retryable: false, message: 'Conversation not found' },
  GROUP_NOT_FOUND: { http: 404, grpc: 5, retryable: false, message: 'Group not found' },
  NOT_GROUP_CONVERSATION: { http: 400, grpc: 9, retryable: false, message: 'Only a group conversation has this operation' },
  MEMBER_NOT_FOUND: { http: 404, grpc: 5, retryable: false, message: 'Not a member of this group' },
  GROUP_FULL: { http: 409, grpc: 9, retryable: false, message: 'The group is full' },
  OWNER_MUST_TRANSFER: { http: 409, grpc: 9, retryable: false, message: 'Transfer ownership to another member first' },
  MESSAGE_NOT_FOUND: { http: 404, grpc: 5, retryable: false, message: 'Message not found' },
  MESSAGE_RECALLED: { http: 409, grpc: 9, retryable: false, message: 'The message was recalled' },
  MESSAGE_NOT_EDITABLE: { http: 400, grpc: 9, retryable: false, message: 'Only text messages can be edited' },
  RECALL_WINDOW_EXPIRED: { http: 403, grpc: 7, retryable: false, message: 'Too late to recall this message' },
  EDIT_WINDOW_EXPIRED: { http: 403, grpc: 7, retryable: false, message: 'Too late to edit this message' },
  TOO_MANY_REACTIONS: { http: 409, grpc: 9, retryable: false, message: 'This message has as many different reactions as it may' },
  ROUTE_NOT_FOUND: { http: 404, grpc: 12, retryable: false, message: 'Route not found' },
  USERNAME_TAKEN: { http: 409, grpc: 6, retryable: false, message: 'Username is already taken' },
  REQUEST_TIMEOUT: { http: 408, grpc: 4, retryable: true, message: 'The request did not arrive in time' },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: 8, retryable: false, message: 'Payload too large' },
  HEADERS_TOO_LARGE: { http: 431, grpc: 8, retryable: false, message: 'Request headers are too large' },
  RATE_LIMITED: { http: 429, grpc: 8, retryable: true, message: 'Too many requests' },
  SERVICE_UNAVAILABLE: { http: 503, grpc: 14, retryable: true, message: 'Service temporarily unavailable' },
  INTERNAL_ERROR: { http: 500, grpc: 13, retryable: true, message: 'Internal server error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/**
 * The only error type business code throws. `message` is safe to show a client;
 * `cause` is for logs only and never leaves the server.
 *
 * @example
 * ```ts
 * throw new AppError('USER_NOT_FOUND', 'Unknown user ids: 7, 9', { userIds: ['7', '9'] });
 * ```
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  /** Seconds after which a RATE_LIMITED request may be retried. */
  readonly retryAfter?: number;

  constructor(
    code: ErrorCode,
    message?: string,
    details?: Record<string, unknown>,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message ?? ERROR_CODES[code].message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'AppError';
    this.code = code;
    if (details !== undefined) this.details = details;
    if (options?.retryAfter !== undefined) this.retryAfter = options.retryAfter;
  }
}

/** Anything thrown becomes an AppError; unknown errors become INTERNAL_ERROR with a generic message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL_ERROR', undefined, undefined, { cause: err });
}
