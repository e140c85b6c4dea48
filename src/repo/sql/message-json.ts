/**
 * The one piece of message JSON the store spells itself: `joinStoredMessage` of
 * protocol/stored-encoding.ts in SQL, over a `messages` row (NULL for a row stored without its
 * body). SQLite concatenates it, one string per row instead of two values and a concatenation in
 * JS. The repo suite checks that a page built this way encodes exactly the appended messages.
 */
export const MESSAGE_JSON_SQL = `'{"messageId":"' || id || '",' || wire`;
