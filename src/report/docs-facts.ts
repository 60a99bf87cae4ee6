// The documents' facts, written from the code that makes them true, so README.md and
// docs/language.md say what the code does: `npm run docs-facts` rewrites every section between its
// markers, and a test keeps the documents equal to what it would write. A section is
// `<!-- facts:NAME … -->` … `<!-- facts:NAME end -->`.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compileFiles } from "../run/runner.js";
import { runsMachine, type MachineTraits } from "../backends/real/traits.js";
import { TCG_TRAITS } from "../backends/qemu/backend.js";
import { KVM_TRAITS } from "../backends/kvm/backend.js";
import { QEMU_VERSIONS } from "../backends/qemu/versions.js";
import { PROFILES } from "../engine/profiles.js";
import { KERNEL_RULES } from "../engine/kvm.js";
import { HOSTS } from "../engine/host.js";
import { PROFILE_NAMES } from "../profile-names.js";
import { packageRoot } from "../version.js";

/** The machines a backend runs: `tcg`, `kvm`, or one only with a vfio-pci device. */
function machines(traits: MachineTraits): string {
  return (["tcg", "kvm"] as const)
    .flatMap((m) => (runsMachine(traits, m) ? [m] : runsMachine(traits, m, true) ? [`${m} (with a vfio-pci device only)`] : []))
    .join(", ");
}

const yes = (b: boolean) => (b ? "yes" : "no");

function row(name: string, what: string, traits: MachineTraits | undefined): string {
  const versions = Object.entries(QEMU_VERSIONS)
    .map(([v, p]) => `\`${p}\` (\`--qemu-version ${v}\`)`)
    .join(" or ");
  if (!traits) return `| \`${name}\` | ${what} | tcg, kvm | all | yes | yes | reset, migrate, unplug | each profile's own, or \`--kernel-rules\` |`;
  const steps = (["reset", "migrate", "unplug"] as const).filter((s) => traits.hostSteps[s]).join(", ");
  const vfio = traits.vfio > 0 ? `${traits.vfio} devices${traits.vfioWindowEntries ? ` (windows of ${traits.vfioWindowEntries} entries at most)` : ""}` : "no";
  const kernel = name === "kvm" ? "Debian's 6.x in L1: `linux-6` (a kernel build's rules with `--kernel NAME`)" : "no KVM";
  return `| \`${name}\` | ${what} | ${machines(traits)} | ${versions}; any, for a \`--qemu-build\` with \`--profile P\` | ${yes(traits.devices)} (DMA by ${traits.dma}) | ${vfio} | ${steps || "none"} | ${kernel} |`;
}

/** Where specs run, from the backends' traits (what the planner asks). */
function backendsTable(): string {
  return [
    "| `--backend` | what runs the steps | `machine` | profiles | emulated devices | vfio-pci | host steps | host kernel rules |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    row("model", "tcespec's model of QEMU and KVM (default)", undefined),
    row("qemu", "a bare-metal guest on qemu-system-ppc64 under TCG", TCG_TRAITS),
    row("kvm", "the same guest under real KVM-HV (nested in TCG off POWER; `tcespec kvm setup` first)", KVM_TRAITS),
  ].join("\n");
}

const code = (names: readonly string[]) => names.map((n) => `\`${n}\``);
const list = (items: readonly string[]) => (items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`);

/** Each profile, from its own summary. */
function profilesTable(): string {
  return ["| profile | what it stands for |", "| --- | --- |", ...PROFILE_NAMES.map((p) => `| \`${p}\` | ${PROFILES[p].summary} |`)].join("\n");
}

/** Each set of host kernel rules, from its summary, with the profiles that ran on it. */
function kernelRulesTable(): string {
  return [
    "| kernel | what it stands for |",
    "| --- | --- |",
    ...Object.values(KERNEL_RULES).map((k) => {
      const profiles = PROFILE_NAMES.filter((p) => PROFILES[p].kvm.id === k.id);
      return `| \`${k.id}\` | ${k.summary}${profiles.length ? ` (the profiles ${list(code(profiles))})` : ""} |`;
    }),
  ].join("\n");
}

/** Each host, from its summary. */
function hostsTable(): string {
  return ["| host | what it stands for |", "| --- | --- |", ...Object.values(HOSTS).map((h) => `| \`${h.id}\` | ${h.summary} |`)].join("\n");
}

const NUMBERS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/** The library's counts: specs, files, topic folders, rules, profiles and kernel rules. */
function library(): string {
  const root = packageRoot();
  const files = compileFiles([join(root, "specs")]).files;
  const specs = files.reduce((n, f) => n + f.specs.length, 0);
  const folders = readdirSync(join(root, "specs"))
    .filter((d) => statSync(join(root, "specs", d)).isDirectory())
    .sort();
  const rules = [...readFileSync(join(root, "specs", "RULES.md"), "utf8").matchAll(/^- `[a-z0-9.-]+`/gm)].length;
  return wrap(
    `\`specs/\` holds ${specs} specs in ${files.length} files, in ${NUMBERS[folders.length] ?? folders.length} topic folders ` +
      `(${list(code(folders.map((f) => `${f}/`)))}). Each runs under the ${NUMBERS[PROFILE_NAMES.length] ?? PROFILE_NAMES.length} ` +
      `profiles ${list(code(PROFILE_NAMES))} unless it names some ([what each stands for](docs/language.md#profiles)), ` +
      `with each profile's host kernel rules (${list(code(Object.keys(KERNEL_RULES)))}). The model has ${rules} rules, each with ` +
      "an id in [specs/RULES.md](specs/RULES.md); specs name the rules they exercise in their tags (`tcespec run specs " +
      "--tag stuff-partial`), and a test fails when a rule has no spec.",
  );
}

/** A paragraph in lines of at most 100 characters, as the documents are written. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join("\n");
}

/** Each generated section: the document it lives in, and what it holds now. */
export const SECTIONS: Record<string, { doc: string; text: () => string }> = {
  backends: { doc: "docs/language.md", text: backendsTable },
  "kernel-rules": { doc: "docs/language.md", text: kernelRulesTable },
  hosts: { doc: "docs/language.md", text: hostsTable },
  profiles: { doc: "docs/language.md", text: profilesTable },
  library: { doc: "README.md", text: library },
};

const begin = (name: string) => `<!-- facts:${name}: generated by \`npm run docs-facts\` -->`;
const end = (name: string) => `<!-- facts:${name} end -->`;

/** The document with each of its sections as the code says now. */
export function withFacts(path: string, doc: string): string {
  let out = doc;
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (section.doc !== path) continue;
    const from = out.indexOf(begin(name));
    const to = out.indexOf(end(name));
    if (from < 0 || to < from) throw new Error(`${path} has no ${begin(name)} … ${end(name)} section`);
    out = `${out.slice(0, from)}${begin(name)}\n${section.text()}\n${out.slice(to)}`;
  }
  return out;
}

/** The documents that hold sections. */
export const FACT_DOCUMENTS = [...new Set(Object.values(SECTIONS).map((s) => s.doc))];

if (process.argv[1]?.endsWith("docs-facts.ts") || process.argv[1]?.endsWith("docs-facts.js")) {
  for (const path of FACT_DOCUMENTS) {
    const full = join(packageRoot(), path);
    writeFileSync(full, withFacts(path, readFileSync(full, "utf8")));
    console.log(`wrote the generated sections of ${path}`);
  }
}
