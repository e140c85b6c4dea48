/** Message content rules (contract.md): 1..max characters after trimming, no control characters but tab and newlines. */
import { AppError } from '../protocol/index.js';
import { isInvisibleOnly } from './identifiers.js';

// C0 and C1 controls except \t \n \r; DEL too.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** Counts Unicode code points, so an emoji is one character, as a person would count it. */
function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) i++;
    count++;
  }
  return count;
}

export function checkContent(content: string, maxChars: number): void {
  const length = codePoints(content.trim());
  // Zero-width spaces, fillers and the like render as nothing: that is empty content too.
  if (length === 0 || isInvisibleOnly(content)) throw new AppError('VALIDATION_ERROR', 'content: must not be empty', { field: 'content' });
  if (length > maxChars) {
    throw new AppError('VALIDATION_ERROR', `content: at most ${maxChars} characters`, { field: 'content' });
  }
  if (FORBIDDEN_CONTROLS.test(content)) {
    throw new AppError('VALIDATION_ERROR', 'content: control characters are not allowed', { field: 'content' });
  }
}
