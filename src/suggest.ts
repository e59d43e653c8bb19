/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
export function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidates closest to a mistyped name, best first, at most `max`: those within a few edits
 * (a third of the name's length, at least 2), and those that contain it or that it contains.
 * Empty when nothing is close, so a caller never dumps a whole list on a typo.
 */
export function closeMatches(query: string, candidates: readonly string[], max = 5): string[] {
  const q = query.toLowerCase();
  const limit = Math.max(2, Math.floor(query.length / 3));
  return candidates
    .map((c) => ({ c, d: distance(query, c), sub: q.length >= 3 && (c.toLowerCase().includes(q) || q.includes(c.toLowerCase())) }))
    .filter((m) => m.d <= limit || m.sub)
    .sort((a, b) => a.d - b.d || a.c.length - b.c.length)
    .slice(0, max)
    .map((m) => m.c);
}

/** "; did you mean 'a' or 'b'?" for a message, or '' when nothing is close. */
export function didYouMean(query: string, candidates: readonly string[], quote = (s: string) => `'${s}'`): string {
  const m = closeMatches(query, candidates).map(quote);
  if (m.length === 0) return '';
  return `; did you mean ${m.length === 1 ? m[0] : `${m.slice(0, -1).join(', ')} or ${m.at(-1)}`}?`;
}
