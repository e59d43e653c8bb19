import { describe, expect, test } from 'vitest';
import { matchClass } from '../../src/labels/match.js';
import { IMAGENET_CLASSES } from '../../src/models/imagenet-classes.js';
import { InvalidInputError, TargetOutOfRangeError } from '../../src/errors.js';

const SYNONYMS = ['tabby, tabby cat', 'tiger cat', 'Persian cat', 'espresso', 'espresso maker', 'crane', 'crane'];

const errorOf = (f: () => unknown): Error => {
  try {
    f();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
};

describe('matchClass', () => {
  test('an integer string is an index', () => {
    expect(matchClass('281', IMAGENET_CLASSES, 1000)).toBe(281);
    expect(matchClass(' 0 ', undefined, 10)).toBe(0);
    expect(matchClass('999', IMAGENET_CLASSES, 1000)).toBe(999);
  });

  test('an index out of range is a TargetOutOfRangeError', () => {
    expect(errorOf(() => matchClass('1000', IMAGENET_CLASSES, 1000))).toBeInstanceOf(TargetOutOfRangeError);
    expect(errorOf(() => matchClass('5', undefined, 5))).toBeInstanceOf(TargetOutOfRangeError);
  });

  test('names match any synonym, case-insensitively', () => {
    expect(matchClass('tabby', SYNONYMS, 7)).toBe(0);
    expect(matchClass('Tabby Cat', SYNONYMS, 7)).toBe(0);
    expect(matchClass('tiger_cat', SYNONYMS, 7)).toBe(1);
    expect(matchClass('  persian   CAT ', SYNONYMS, 7)).toBe(2);
    // 'espresso' is a synonym of one label and a substring of another: the exact synonym wins.
    expect(matchClass('espresso', SYNONYMS, 7)).toBe(3);
    expect(matchClass('tiger cat', IMAGENET_CLASSES, 1000)).toBe(282);
    expect(matchClass('espresso', IMAGENET_CLASSES, 1000)).toBe(967);
    expect(matchClass('tabby', IMAGENET_CLASSES, 1000)).toBe(281);
  });

  test('an ambiguous name lists every class it denotes', () => {
    const err = errorOf(() => matchClass('crane', SYNONYMS, 7));
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/ambiguous/);
    expect(err.message).toContain("'crane' (5)");
    expect(err.message).toContain("'crane' (6)");
  });

  test('an unknown name lists close matches (substrings and typos)', () => {
    const sub = errorOf(() => matchClass('cat', SYNONYMS, 7));
    expect(sub).toBeInstanceOf(InvalidInputError);
    expect(sub.message).toMatch(/unknown class name 'cat'; close matches: .*'tabby, tabby cat' \(0\)/);
    expect(sub.message).toContain("'tiger cat' (1)");
    const typo = errorOf(() => matchClass('expresso', IMAGENET_CLASSES, 1000));
    expect(typo.message).toContain("'espresso' (967)");
    const none = errorOf(() => matchClass('qwxzv', IMAGENET_CLASSES, 1000));
    expect(none).toBeInstanceOf(InvalidInputError);
    expect(none.message).toBe("unknown class name 'qwxzv'");
  });

  test('no labels, empty or non-string queries are InvalidInputErrors', () => {
    expect(errorOf(() => matchClass('tabby', undefined, 10)).message).toMatch(/no class names.*index from 0 to 9/);
    expect(errorOf(() => matchClass('  ', SYNONYMS, 7))).toBeInstanceOf(InvalidInputError);
    expect(errorOf(() => matchClass(3 as unknown as string, SYNONYMS, 7))).toBeInstanceOf(InvalidInputError);
  });
});
