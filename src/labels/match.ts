import { InvalidInputError, TargetOutOfRangeError } from '../errors.js';
import { distance } from '../suggest.js';

const MAX_SUGGESTIONS = 8;

/** Lower case, '_' as a space, single spaces: 'Tiger_Cat ' and 'tiger  cat' both become 'tiger cat'. */
const normalise = (s: string): string => s.toLowerCase().replace(/_/g, ' ').replace(/\s+/g, ' ').trim();

/** The comma-separated synonyms of a label ('tabby, tabby cat' -> ['tabby', 'tabby cat']). */
const synonyms = (label: string): string[] => label.split(',').map(normalise).filter(Boolean);

/**
 * Index of the class a name denotes: an integer string is an index; otherwise the name matches,
 * case-insensitively, any comma-separated synonym of a label ('tabby' -> 'tabby, tabby cat').
 * Unknown or ambiguous -> InvalidInputError whose message lists the close matches.
 * An integer outside [0, numClasses) -> TargetOutOfRangeError.
 */
export function matchClass(query: string, labels: readonly string[] | undefined, numClasses: number): number {
  if (typeof query !== 'string') throw new InvalidInputError(`a class must be given as a string, got ${typeof query}`);
  const trimmed = query.trim();
  if (/^\d+$/.test(trimmed)) {
    const index = Number(trimmed);
    if (index >= numClasses) throw new TargetOutOfRangeError(index, numClasses);
    return index;
  }
  const q = normalise(trimmed);
  if (!q) throw new InvalidInputError('the class name is empty');
  if (!labels) throw new InvalidInputError(`this model has no class names; give the class '${trimmed}' as an index from 0 to ${numClasses - 1}`);
  const exact = labels.flatMap((label, i) => (synonyms(label).includes(q) ? [i] : []));
  if (exact.length === 1) return exact[0]!;
  const list = (indices: readonly number[]) => indices.slice(0, MAX_SUGGESTIONS).map((i) => `'${labels[i]}' (${i})`).join(', ');
  if (exact.length > 1) throw new InvalidInputError(`the class name '${trimmed}' is ambiguous: ${list(exact)}; give the index instead`);
  const close = closeMatches(q, labels);
  throw new InvalidInputError(`unknown class name '${trimmed}'${close.length ? `; close matches: ${list(close)}` : ''}`);
}

/** Labels with a synonym that contains the query, or is within a few edits of it; nearest first. */
function closeMatches(q: string, labels: readonly string[]): number[] {
  const budget = Math.max(1, Math.floor(q.length / 3));
  const scored: { index: number; score: number }[] = [];
  labels.forEach((label, index) => {
    let best = Infinity;
    for (const s of synonyms(label)) {
      if (s.includes(q) || q.includes(s)) best = Math.min(best, 0.5);
      else best = Math.min(best, distance(q, s));
    }
    if (best <= budget) scored.push({ index, score: best });
  });
  return scored.sort((a, b) => a.score - b.score || a.index - b.index).map((s) => s.index);
}
