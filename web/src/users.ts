/** Finding people by what users type. */
import { GoChatError, type GoChatClient } from '../../sdk/index.js';

/** A username first (people know names); a numeric id when no one has that name. */
export async function resolveUser(client: GoChatClient, input: string): Promise<string> {
  try {
    return (await client.findUser(input)).userId;
  } catch (err) {
    if (err instanceof GoChatError && err.code === 'USER_NOT_FOUND' && /^\d+$/.test(input)) return input;
    throw err;
  }
}

/** "ann, ben cal" → ["ann", "ben", "cal"]. */
export function splitNames(input: string): string[] {
  return input.split(/[\s,]+/).filter(Boolean);
}
