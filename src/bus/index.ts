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
  /**
   * The version of the member set the commit checked `recipients` against (a group's members_seq).
   * A reader that computes recipients later (the fan-out worker) uses it to name exactly the
   * members of that version.
   */
  membersSeq?: number;
  /**
   * Frames that ride on this message (a group change's `conversation-added`, `conversation-update`,
   * `conversation-removed`): written to the same connections in the same corked write, so every bus
   * keeps them in the message's place in the conversation's order and none can overtake it.
   * In a large group such a delivery takes the fan-out queue like the group's other messages, with
   * its recipients named in the entry (they include members who just left, whom no member list read
   * later would name).
   */
  attached?: readonly AttachedFrame[];
}

/** A frame written with a message: to every recipient, or only to `to`; before the message, or after it. */
export interface AttachedFrame {
  frame: string;
  /** Only these recipients (absent: every recipient). */
  to?: readonly string[];
  /** Written before the message frame (a `conversation-added` must precede the conversation's first message). */
  before?: true;
}

/**
 * A frame for every open connection of `recipients` that belongs to no message (a conversation
 * created elsewhere: `conversation-added`). Not ordered with messages.
 */
export interface FramesDelivery {
  kind: 'frames';
  /** `everyone`: every open connection on every gateway (a change in the world room). */
  recipients: readonly string[] | 'everyone';
  frame: string;
  /** Worth nothing late (typing): a gateway skips connections already holding unsent output. */
  droppable?: true;
}

/**
 * A committed message of a conversation whose members are everyone (the world room), for every
 * open connection on every gateway. It carries no recipient list, so its cost is one publish and
 * one write per connection, whatever the member count. Only authenticated sockets exist, and an
 * expired guest's sockets are closed (`revoke-users`), so "every connection" is "every member".
 */
export interface BroadcastDelivery {
  kind: 'broadcast';
  conversationId: string;
  seqId: number;
  /** The complete `new-message` frame, serialized once for all connections. */
  frame: string;
  /** The connection that sent it: it gets the ack instead. */
  excludeConnId?: string;
}

/** Either delivery: what the per-conversation ordering stage handles. */
export type Delivery = MessageDelivery | BroadcastDelivery;

/** A token was logged out: gateways close its sockets. */
export interface RevocationEvent {
  kind: 'revoke';
  userId: string;
  jti: string;
}

/** Every token of these users stopped working (expired guests): gateways close all their sockets. */
export interface UserRevocationEvent {
  kind: 'revoke-users';
  userIds: readonly string[];
}

export type BusEvent = Delivery | FramesDelivery | RevocationEvent | UserRevocationEvent;
export type BusHandler = (event: BusEvent) => void;

export interface Bus {
  publish(event: BusEvent): Promise<void>;
  /** Gateway side: events for users connected to this process (and every broadcast) arrive at `handler`. */
  subscribe(handler: BusHandler): Promise<void>;
  /** Presence, reported by the gateway holding the user's sockets. */
  userOnline(userId: string): void;
  userOffline(userId: string): void;
  close(): Promise<void>;
}
