// "Did you mean …?": the closest words by edit distance, for every error that names a word.

/** Edit distance with transpositions (Damerau–Levenshtein, optimal string alignment). */
export function distance(a: string, b: string): number {
  if (a === b) return 0;
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** The candidates nearest to `word`, if near enough to be a slip: at most a third of it wrong. */
export function closest(word: string, candidates: Iterable<string>): string[] {
  if (word.length > 64) return [];
  const lower = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best = Infinity;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === word) continue;
    // A case slip (PUT_TCE, Qemu-7.2) is the nearest there is.
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const d = candidate.toLowerCase() === lower ? 0.5 : distance(lower, candidate.toLowerCase());
    if (d > limit || d >= Math.max(word.length, candidate.length)) continue;
    if (d < best) {
      best = d;
      found = [candidate];
    } else if (d === best) found.push(candidate);
  }
  return found.slice(0, 3);
}

/** " — did you mean 'x'?" (or 'x' or 'y'), or nothing when no candidate is near. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const found = closest(word, candidates).map((c) => `'${c}'`);
  if (found.length === 0) return "";
  const list = found.length === 1 ? found[0] : `${found.slice(0, -1).join(", ")} or ${found[found.length - 1]}`;
  return ` — did you mean ${list}?`;
}

/**
 * "unknown PHB 'phb1' — did you mean 'phb0'?"; with no near candidate, the list of what there is
 * ("(declared: a, b)"), if `listed` names it.
 */
export function unknown(what: string, word: string, candidates: readonly string[], listed?: string): string {
  const hint = didYouMean(word, candidates);
  if (hint) return `unknown ${what} '${word}'${hint}`;
  return `unknown ${what} '${word}'${listed && candidates.length > 0 ? ` (${listed}: ${candidates.join(", ")})` : ""}`;
}
