/**
 * The delivery port between logic/task (publishers) and gateways (subscribers).
 * `MemoryBus` serves one process; `RedisBus` routes between processes using presence,
 * so a delivery reaches only the gateways that hold a recipient.
 */

/** A committed message, serialized once, for every open connection of `recipients`. */
export interface MessageDelivery {
  kind: 'message';
  conversationId: string;
  seqId: number;
  recipients: readonly string[];
  /** The complete `new-message` frame, serialized once for all recipients. */
  frame: string;
  /** The connection that sent it: it gets the ack instead. */
  excludeConnId?: string;
}

/** A token was logged out: gateways close its sockets. */
export interface RevocationEvent {
  kind: 'revoke';
  userId: string;
  jti: string;
}

export type BusEvent = MessageDelivery | RevocationEvent;
export type BusHandler = (event: BusEvent) => void;

export interface Bus {
  publish(event: BusEvent): Promise<void>;
  /** Gateway side: events for users connected to this process arrive at `handler`. */
  subscribe(handler: BusHandler): Promise<void>;
  /** Presence, reported by the gateway holding the user's sockets. */
  userOnline(userId: string): void;
  userOffline(userId: string): void;
  close(): Promise<void>;
}
