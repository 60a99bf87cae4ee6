// Where tcespec keeps what it fetches and builds: $XDG_CACHE_HOME/tcespec (default ~/.cache/tcespec).
import { homedir } from "node:os";
import { join } from "node:path";

export function cacheDir(...parts: string[]): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "tcespec", ...parts);
}
