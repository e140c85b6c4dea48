/**
 * The identifier profile for usernames and guest names (issue 10, "look-alike usernames").
 *
 * A username is what other people see to decide who they are talking to, so the profile refuses
 * every name that could pass for another one or that hides characters:
 *
 * 1. **Normalize first (NFKC), then judge.** UAX #31 §5 recommends Normalization Form KC for
 *    identifiers compared case-insensitively, as usernames are (contract.md). NFKC folds the
 *    compatibility variants that only change presentation, so `ａｄｍｉｎ` (fullwidth), `𝐚𝐝𝐦𝐢𝐧`
 *    (mathematical bold) and `ﬁ` (ligature) become `admin`, `admin` and `fi` instead of distinct
 *    accounts; and it composes `e` + U+0301 into `é`, so the length counts what a reader sees.
 *    Every rule below applies to the normalized form, and that form is what gets stored.
 * 2. **2–32 characters, counted in code points of the normalized form** (contract.md's "2–32
 *    chars"), so a decomposed name is not penalised and an astral letter counts once.
 * 3. **Letters of any script, combining marks, digits, `_`, `-`, `.`** (contract.md), and the
 *    first character is a letter or a digit: a name cannot be only punctuation (`..`, `-_`) or only
 *    combining marks, which render as nothing or as marks floating over the previous text.
 * 4. **No invisible code points.** Every Default_Ignorable_Code_Point (zero-width spaces and
 *    joiners, variation selectors, the Hangul fillers U+115F U+1160 U+3164 U+FFA0, U+034F, U+17B4,
 *    tags, bidi controls…) plus the blanks that Unicode does not list as ignorable (U+2800 braille
 *    blank, U+16FE4 Khitan filler, U+1D159 null notehead): each renders as nothing, so `admin` +
 *    one of them looks exactly like `admin`.
 * 5. **At most 4 nonspacing marks in a row, and never the same one twice in a row** (UTS #39 §5.4,
 *    checked on the NFD form): a doubled accent draws on top of itself and looks like a single one,
 *    and long stacks ("zalgo") spill over the lines around the name.
 * 6. **The confusable skeleton is unique** ({@link usernameSkeleton}): storage keeps it in a unique
 *    column, so `admin` and `аdmin` (Cyrillic а) cannot both exist.
 *
 * Pure functions: no I/O, no clock, no randomness.
 */
import confusablesJson from 'unhomoglyph/data.json' with { type: 'json' };

/** Fewest characters (code points of the normalized form) in a username. */
export const USERNAME_MIN_CHARS = 2;
/** Most characters (code points of the normalized form) in a username. */
export const USERNAME_MAX_CHARS = 32;
/**
 * Longest raw input looked at, in UTF-16 units: room for 32 characters fully decomposed (a
 * character decomposes into at most 4 code points, each up to 2 units), and a bound on the work
 * an attacker can ask of the normalizer.
 */
export const USERNAME_MAX_RAW_UTF16 = 256;

/**
 * The Unicode TR39 confusables table, source code point -> prototype (confusables.txt, as shipped
 * by the unhomoglyph package, version 13.0.0 of the data). A Map, so that no lookup can reach
 * Object.prototype.
 */
const CONFUSABLE_PROTOTYPES: ReadonlyMap<string, string> = new Map(Object.entries(confusablesJson as Record<string, string>));

// Blank code points that Unicode does not mark Default_Ignorable: U+2800 BRAILLE PATTERN BLANK,
// U+16FE4 KHITAN SMALL SCRIPT FILLER (a nonspacing mark) and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD.
// Keep the two lists in step. U+16FE4 stands outside the brackets because it is a combining mark,
// which a character class would seem to attach to its neighbour (no-misleading-character-class).
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\u2800\u{1D159}]|\u{16FE4}/u;
const ONLY_INVISIBLE = /^(?:[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\u2800\u{1D159}]|\u{16FE4})*$/u;
const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const ALLOWED_CHAR = /[\p{L}\p{M}\p{N}_.-]/u;
const FIRST_CHAR = /^[\p{L}\p{N}]/u;
const NONSPACING_MARK = /[\p{Mn}\p{Me}]/u;
const LONE_SURROGATE = /\p{Cs}/gu;
const MAX_MARKS_IN_A_ROW = 4;
// Skeleton, fold and skeleton again settle in two rounds for every code point of the table; the cap
// only keeps the loop finite if a future table were to cycle.
const MAX_FOLD_ROUNDS = 8;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

const hex = (char: string): string => `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

function codePointCount(text: string): number {
  let count = 0;
  for (const _char of text) count++;
  return count;
}

/**
 * The form a username is judged and stored in: Unicode NFKC (see the module comment for why K).
 * Idempotent. Log-in lookups must use it too, so that `ａｄｍｉｎ` finds `admin`.
 *
 * @example normalizeUsername('ａｄｍｉｎ') === 'admin'
 * @example normalizeUsername('e\u0301') === '\u00e9'
 */
export function normalizeUsername(raw: string): string {
  return raw.normalize('NFKC');
}

export type UsernameCheck = { ok: true; username: string } | { ok: false; reason: string };

/**
 * Applies the identifier profile (module comment): normalizes, then checks characters, length,
 * first character and combining marks. On success `username` is the normalized form, the one to
 * store; on failure `reason` is a short sentence meant to follow "username: ".
 *
 * @example checkUsername('admin\u3164') // { ok: false, reason: 'must not contain invisible characters (U+3164)' }
 */
export function checkUsername(raw: string): UsernameCheck {
  const tooLong = `must be ${USERNAME_MIN_CHARS} to ${USERNAME_MAX_CHARS} characters long`;
  if (raw.length > USERNAME_MAX_RAW_UTF16) return { ok: false, reason: tooLong };
  const username = normalizeUsername(raw);
  const chars = [...username];
  // Invisible first: several invisible code points are letters or marks (U+3164 is a letter), and
  // the person needs to hear that the name hides something, not that it is too long. The raw form
  // names the code point they typed (NFKC turns U+3164 into U+1160, also invisible).
  const isInvisible = (char: string): boolean => INVISIBLE.test(char);
  const invisible = [...raw].find(isInvisible) ?? chars.find(isInvisible);
  if (invisible !== undefined) return { ok: false, reason: `must not contain invisible characters (${hex(invisible)})` };
  const disallowed = chars.find((char) => !ALLOWED_CHAR.test(char));
  if (disallowed !== undefined) {
    return { ok: false, reason: `may contain only letters, digits, combining marks, "_", "-" and "." (not ${hex(disallowed)})` };
  }
  if (chars.length < USERNAME_MIN_CHARS || chars.length > USERNAME_MAX_CHARS) return { ok: false, reason: tooLong };
  if (!FIRST_CHAR.test(username)) return { ok: false, reason: 'must start with a letter or a digit' };
  const marks = checkMarks(username);
  if (marks !== undefined) return { ok: false, reason: marks };
  return { ok: true, username };
}

/** UTS #39 §5.4 on the NFD form: runs of nonspacing marks are short and never repeat a mark. */
function checkMarks(username: string): string | undefined {
  let run: string[] = [];
  for (const char of username.normalize('NFD')) {
    if (!NONSPACING_MARK.test(char)) {
      run = [];
      continue;
    }
    if (run.includes(char)) return `must not repeat a combining mark on one letter (${hex(char)})`;
    run.push(char);
    if (run.length > MAX_MARKS_IN_A_ROW) return `must not stack more than ${MAX_MARKS_IN_A_ROW} combining marks on one letter`;
  }
  return undefined;
}

/**
 * UTS #39 internalSkeleton: NFD, drop Default_Ignorable code points, replace each code point by
 * its prototype from confusables.txt, NFD again.
 */
function tr39Skeleton(text: string): string {
  let mapped = '';
  for (const char of text.normalize('NFD')) {
    if (DEFAULT_IGNORABLE.test(char)) continue;
    mapped += CONFUSABLE_PROTOTYPES.get(char) ?? char;
  }
  return mapped.normalize('NFD');
}

/**
 * Close to Unicode full case folding (ß -> ss, ﬁ -> fi). Where it differs from CaseFolding.txt
 * (Cherokee folds the other way; a word-final Σ lowers to ς, not σ) it does not matter: both
 * names being compared go through the same function.
 */
const caseFold = (text: string): string => text.toUpperCase().toLowerCase();

/**
 * The confusable skeleton of a username, for the unique `username_skeleton` column: two names
 * with the same skeleton look alike, and only the first may exist. Not for display.
 *
 * 1. NFKC ({@link normalizeUsername}), so names stored before the profile existed get the same
 *    skeleton as their normalized form.
 * 2. The UTS #39 skeleton of the name as written, case and all: the table knows that capital `I`
 *    looks like `l` (`paypaI` vs `paypal`) and that Greek capital Η looks like `H`, which folding
 *    first would lose (ergo's IRC server makes the same choice for the same reason).
 * 3. Then case folding and the skeleton again, until nothing changes, so `Аdmin` (Cyrillic А)
 *    meets `admin`, and `M` -> `m` -> `rn` meets `rn`.
 * 4. Then `i` -> `l`. The table maps capital `I` (and `1`, `|`, Greek Ι, Cyrillic І) to `l`, and
 *    case folding maps it to `i`; one string cannot honour both unless `i` and `l` share a class.
 *    This is what makes `ADMIN` meet `admin`. Its price, deliberately paid: `ali`/`all` and
 *    `adm1n`/`admin` also meet, so the second of each pair is refused. Every other Latin letter
 *    already folds consistently; for letters whose capital and small forms look unalike (Greek
 *    Η/η) the skeleton follows looks, and exact case variants stay refused by the separate
 *    case-insensitive username key.
 *
 * The table is confusables.txt 13.0.0 (unhomoglyph 1.0.6): per TR39 it maps `1`, `I` and `|` to
 * `l` (not to `i`), `0` to `O`, `m` to `rn`, Cyrillic а and і to a and i.
 *
 * @example usernameSkeleton('ADMIN') === usernameSkeleton('admin')
 * @example usernameSkeleton('\u0430dmin') === usernameSkeleton('admin') // Cyrillic а
 * @example usernameSkeleton('alice') !== usernameSkeleton('bob')
 */
export function usernameSkeleton(username: string): string {
  let skeleton = tr39Skeleton(normalizeUsername(username));
  for (let round = 0; round < MAX_FOLD_ROUNDS; round++) {
    const next = tr39Skeleton(caseFold(skeleton));
    if (next === skeleton) break;
    skeleton = next;
  }
  return skeleton.replaceAll('i', 'l');
}

/**
 * Cuts `base` to whole grapheme clusters (Intl.Segmenter) so that the result followed by `suffix`
 * is at most `maxCodePoints` code points. Never splits a surrogate pair, an emoji ZWJ sequence,
 * a flag or a letter from its marks; lone surrogates in `base` are dropped, since storage would
 * turn each into U+FFFD. Returns the cut base only: append `suffix` yourself.
 *
 * @example cutGuestName(name, 32, '-1234') + '-1234'
 */
export function cutGuestName(base: string, maxCodePoints = USERNAME_MAX_CHARS, suffix = ''): string {
  const budget = maxCodePoints - codePointCount(suffix);
  let cut = '';
  let used = 0;
  for (const { segment } of graphemes.segment(base.replace(LONE_SURROGATE, ''))) {
    const size = codePointCount(segment);
    if (used + size > budget) break;
    cut += segment;
    used += size;
  }
  return cut;
}

/**
 * True when `text` shows nothing: it holds only white space, control and format characters,
 * Default_Ignorable code points and the blanks listed in the module comment (U+2800, U+16FE4,
 * U+1D159). Message content like that is empty content. The empty string is invisible too.
 *
 * @example isInvisibleOnly('\u200b\u3164 \u2800') === true
 * @example isInvisibleOnly('\u200bhi') === false
 */
export function isInvisibleOnly(text: string): boolean {
  return ONLY_INVISIBLE.test(text);
}
