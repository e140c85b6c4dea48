import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkUsername,
  cutGuestName,
  isInvisibleOnly,
  normalizeUsername,
  USERNAME_MAX_RAW_UTF16,
  usernameSkeleton,
} from '../../src/logic/identifiers.js';

/** Code points that render as nothing; the first fifteen are the ones issue 10 names. */
const INVISIBLES: ReadonlyArray<[number, string]> = [
  [0x3164, 'HANGUL FILLER'],
  [0x115f, 'HANGUL CHOSEONG FILLER'],
  [0x034f, 'COMBINING GRAPHEME JOINER'],
  [0xfe0f, 'VARIATION SELECTOR-16'],
  [0x17b4, 'KHMER VOWEL INHERENT AQ'],
  [0xe0100, 'VARIATION SELECTOR-17'],
  [0x200b, 'ZERO WIDTH SPACE'],
  [0x200d, 'ZERO WIDTH JOINER'],
  [0x2060, 'WORD JOINER'],
  [0xfeff, 'ZERO WIDTH NO-BREAK SPACE'],
  [0x00ad, 'SOFT HYPHEN'],
  [0x180e, 'MONGOLIAN VOWEL SEPARATOR'],
  [0x2800, 'BRAILLE PATTERN BLANK'],
  [0x1160, 'HANGUL JUNGSEONG FILLER'],
  [0xffa0, 'HALFWIDTH HANGUL FILLER'],
  [0x16fe4, 'KHITAN SMALL SCRIPT FILLER'],
  [0x1d159, 'MUSICAL SYMBOL NULL NOTEHEAD'],
  [0xe0041, 'TAG LATIN CAPITAL LETTER A'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
];

const u = (codePoint: number): string => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
const refused = (raw: string): string => {
  const result = checkUsername(raw);
  assert.equal(result.ok, false, `${JSON.stringify(raw)} was accepted`);
  return result.ok ? '' : result.reason;
};
const accepted = (raw: string): string => {
  const result = checkUsername(raw);
  assert.ok(result.ok, `${JSON.stringify(raw)} was refused: ${result.ok ? '' : result.reason}`);
  return result.username;
};
const hasLoneSurrogate = (text: string): boolean => /\p{Cs}/u.test(text);

describe('checkUsername', () => {
  for (const [codePoint, name] of INVISIBLES) {
    it(`refuses ${name} (${u(codePoint)}) inside and at the end of "admin"`, () => {
      const invisible = String.fromCodePoint(codePoint);
      for (const raw of [`ad${invisible}min`, `admin${invisible}`]) {
        assert.match(refused(raw), /invisible/);
      }
    });
  }

  it('names the invisible code point that was typed, not its normalized form', () => {
    assert.equal(refused('admin\u3164'), 'must not contain invisible characters (U+3164)');
  });

  it('refuses a name made only of combining marks', () => {
    assert.equal(refused('\u0301\u0302\u0303'), 'must start with a letter or a digit');
  });

  it('refuses a name made only of punctuation, such as ".." and "-_"', () => {
    for (const raw of ['..', '-_', '._-.']) assert.equal(refused(raw), 'must start with a letter or a digit');
  });

  it('refuses a name that starts with a combining mark or punctuation', () => {
    for (const raw of ['\u0301ab', '.admin', '_admin']) assert.equal(refused(raw), 'must start with a letter or a digit');
  });

  it('normalizes before measuring: 32 é typed as e + U+0301 (64 code points) are 32 characters', () => {
    const raw = 'e\u0301'.repeat(32);
    assert.equal([...raw].length, 64);
    assert.equal(accepted(raw), '\u00e9'.repeat(32));
  });

  it('measures after normalization: one é typed as e + U+0301 is one character, too short', () => {
    assert.equal(refused('e\u0301'), 'must be 2 to 32 characters long');
  });

  it('accepts 2 and 32 characters and refuses 1 and 33, counting an astral letter once', () => {
    const astral = '\u{20000}'; // CJK UNIFIED IDEOGRAPH-20000, two UTF-16 units
    accepted(astral.repeat(2));
    accepted(astral.repeat(32));
    assert.equal(refused(astral), 'must be 2 to 32 characters long');
    assert.equal(refused(astral.repeat(33)), 'must be 2 to 32 characters long');
  });

  it('refuses raw input longer than the bound without judging it further', () => {
    assert.equal(refused('a'.repeat(USERNAME_MAX_RAW_UTF16 + 1)), 'must be 2 to 32 characters long');
  });

  it('stores the NFKC form, so fullwidth and mathematical letters become plain ones', () => {
    assert.equal(accepted('\uff41\uff44\uff4d\uff49\uff4e'), 'admin');
    assert.equal(accepted('\u{1d41a}\u{1d41d}\u{1d426}\u{1d422}\u{1d427}'), 'admin');
    assert.equal(normalizeUsername('\ufb01sh'), 'fish');
  });

  it('accepts letters of any script with their marks, digits, "_", "-" and "."', () => {
    for (const raw of ['Zoë_ß-2.0', 'Дмитрий', '李小龍', 'محمد', 'नमस्ते', 'Nguyễn', 'ἄλφα']) {
      assert.equal(accepted(raw), raw.normalize('NFKC'));
    }
  });

  it('refuses spaces and symbols, naming the code point', () => {
    assert.match(refused('ad min'), /U\+0020/);
    assert.match(refused('admin!'), /U\+0021/);
    assert.match(refused('ad\u{1f600}'), /U\+1F600/);
  });

  it('refuses a lone surrogate', () => {
    assert.match(refused('ad\ud800min'), /U\+D800/);
  });

  it('refuses the same combining mark twice on one letter, which draws as a single one', () => {
    assert.equal(refused('a\u0301\u0301b'), 'must not repeat a combining mark on one letter (U+0301)');
    // Hidden inside a precomposed letter: á + U+0301 is a + U+0301 + U+0301 once decomposed.
    assert.match(refused('\u00e1\u0301b'), /repeat/);
  });

  it('refuses more than 4 combining marks on one letter', () => {
    accepted('a\u0300\u0301\u0302\u0303b');
    assert.equal(refused('a\u0300\u0301\u0302\u0303\u0304b'), 'must not stack more than 4 combining marks on one letter');
  });
});

describe('usernameSkeleton', () => {
  const same = (a: string, b: string): void => assert.equal(usernameSkeleton(a), usernameSkeleton(b), `${a} vs ${b}`);
  const different = (a: string, b: string): void => assert.notEqual(usernameSkeleton(a), usernameSkeleton(b), `${a} vs ${b}`);

  it('gives ADMIN and admin the same skeleton', () => same('ADMIN', 'admin'));

  it('gives admin and аdmin (Cyrillic а) the same skeleton', () => same('\u0430dmin', 'admin'));

  it('gives admin and admіn (Cyrillic і) the same skeleton', () => same('adm\u0456n', 'admin'));

  it('gives paypal and pаypal (Cyrillic а) the same skeleton', () => same('p\u0430ypal', 'paypal'));

  it('gives rn and m the same skeleton, as TR39 maps m to rn', () => same('modern', 'rnodern'));

  it('gives paypaI (capital I) and paypal the same skeleton, as TR39 maps I to l', () => same('paypaI', 'paypal'));

  it('gives adm1n, admln and admIn the skeleton of admin: TR39 maps 1 and I to l, folding maps I to i', () => {
    for (const lookAlike of ['adm1n', 'admln', 'admIn', 'adm|n']) same(lookAlike, 'admin');
  });

  it('gives r00t and root the same skeleton, as TR39 maps 0 to O', () => same('r00t', 'root'));

  it('gives Ηank (Greek capital Eta) and Hank the same skeleton', () => same('\u0397ank', 'Hank'));

  it('gives ΑDMIN (Greek capital Alpha) and admin the same skeleton', () => same('\u0391DMIN', 'admin'));

  it('gives fullwidth and mathematical variants the skeleton of their plain form', () => {
    same('\uff41\uff44\uff4d\uff49\uff4e', 'admin');
    same('\u{1d41a}\u{1d41d}\u{1d426}\u{1d422}\u{1d427}', 'admin');
  });

  it('ignores default-ignorable code points, so a name stored before the profile meets its visible twin', () => {
    same('ad\u200bmin\u3164', 'admin');
  });

  it('gives different names different skeletons', () => {
    different('alice', 'bob');
    different('admin', 'admins');
    different('admin', 'ad_min');
    different('paypal', 'paypa');
  });

  it('is case-insensitive for every Latin letter', () => {
    for (let code = 0x61; code <= 0x7a; code++) {
      const letter = String.fromCharCode(code);
      same(`x${letter.toUpperCase()}x`, `x${letter}x`);
    }
  });
});

describe('cutGuestName', () => {
  const family = '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}'; // 7 code points, one cluster
  const flag = '\u{1f1eb}\u{1f1f7}'; // 2 code points, one cluster

  it('leaves a name that fits whole', () => {
    assert.equal(cutGuestName('guest_123456'), 'guest_123456');
  });

  it('never splits a family emoji ZWJ sequence', () => {
    assert.equal(cutGuestName('a'.repeat(27) + family), 'a'.repeat(27));
    assert.equal(cutGuestName('a'.repeat(25) + family), 'a'.repeat(25) + family);
  });

  it('never splits a flag', () => {
    assert.equal(cutGuestName('a'.repeat(31) + flag), 'a'.repeat(31));
    assert.equal(cutGuestName(flag.repeat(17)), flag.repeat(16));
  });

  it('keeps a letter together with its combining marks', () => {
    assert.equal(cutGuestName('a'.repeat(30) + 'e\u0301\u0302'), 'a'.repeat(30));
  });

  it('leaves room for the suffix, counted in code points', () => {
    const suffix = '-1234567';
    const cut = cutGuestName('\u{20000}'.repeat(40), 32, suffix);
    assert.equal([...cut + suffix].length, 32);
  });

  it('returns the empty string when the suffix alone fills the budget', () => {
    assert.equal(cutGuestName('guest', 4, '-12345'), '');
  });

  it('never yields U+FFFD or a lone surrogate, and always a grapheme-whole prefix that fits', () => {
    const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
    const piece = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom(family, flag, 'e\u0301', '\u{1f44d}\u{1f3fd}'), loneSurrogate);
    const noReplacement = fc.array(piece, { maxLength: 30 }).map((pieces) => pieces.join('').replaceAll('\ufffd', ''));
    fc.assert(
      fc.property(noReplacement, fc.integer({ min: 0, max: 40 }), fc.string({ unit: 'grapheme-ascii', maxLength: 8 }), (base, max, suffix) => {
        const cut = cutGuestName(base, max, suffix);
        assert.ok(!cut.includes('\ufffd'));
        assert.ok(!hasLoneSurrogate(cut));
        assert.ok([...cut].length + [...suffix].length <= Math.max(max, [...suffix].length));
        const wellFormed = base.replace(/\p{Cs}/gu, '');
        assert.ok(wellFormed.startsWith(cut));
        const segments = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(wellFormed)];
        assert.ok(cut === '' || segments.some((s) => s.index + s.segment.length === cut.length), 'cut inside a cluster');
      }),
      { numRuns: 500 },
    );
  });
});

describe('isInvisibleOnly', () => {
  it('is true for text made only of invisible characters and white space', () => {
    const allInvisible = INVISIBLES.map(([codePoint]) => String.fromCodePoint(codePoint)).join(' \n\t\u3000');
    assert.equal(isInvisibleOnly(allInvisible), true);
  });

  it('is true for each invisible character alone', () => {
    for (const [codePoint, name] of INVISIBLES) assert.equal(isInvisibleOnly(String.fromCodePoint(codePoint)), true, name);
  });

  it('is true for the empty string', () => {
    assert.equal(isInvisibleOnly(''), true);
  });

  it('is false as soon as one visible character is present', () => {
    for (const visible of ['a', '.', '\u{1f600}', '\u0301', '\u00a0x', '\u200b\u3164ok']) {
      assert.equal(isInvisibleOnly(visible), false, JSON.stringify(visible));
    }
  });
});
