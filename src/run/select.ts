// Which spec × profile runs happen: --profile, --tag, --grep and --shard.
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";

export interface Selection {
  profiles?: readonly ProfileName[];
  tags?: readonly string[];
  grep?: string;
  shard?: { index: number; count: number };
}

/** FNV-1a: a stable hash, so a spec lands in the same shard on every machine. */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function shardOf(spec: CompiledSpec, count: number): number {
  return (stableHash(`${spec.file}\u0000${spec.name}`) % count) + 1;
}

export function selected(spec: CompiledSpec, selection: Selection): boolean {
  if (selection.tags && selection.tags.length > 0 && !selection.tags.some((t) => spec.tags.includes(t))) return false;
  if (selection.grep && !spec.name.toLowerCase().includes(selection.grep.toLowerCase())) return false;
  if (selection.shard && shardOf(spec, selection.shard.count) !== selection.shard.index) return false;
  return true;
}

export function profilesFor(spec: CompiledSpec, selection: Selection, available: readonly ProfileName[]): ProfileName[] {
  return spec.profiles.filter((p) => available.includes(p) && (!selection.profiles || selection.profiles.includes(p)));
}
