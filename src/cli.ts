// The command line: run, check, matrix. Exit 0 all matched, 1 some diverged, 2 usage or spec errors.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import kleur from "kleur";
import type { Report, RunOptions } from "./run/runner.js";
import type { ProfileName } from "./engine/types.js";
import type { Backend, BackendOptions } from "./backends/backend.js";
import type { ExploreState } from "./explore/explore.js";
import { VERSION } from "./version.js";

import { PROFILE_NAMES } from "./engine/profiles.js";
import { HOST_NAMES, isHostName, isKernelRules, KERNEL_RULES_NAMES, type KernelRulesName } from "./profile-names.js";

// Only what --version and --help need is loaded up front; the parser, the engine and the
// reporters come in when a command runs, so start-up stays close to node's own.
// Every reporter, loaded when chosen: one list for the usage text, the check and the run.
const REPORTERS: Record<string, () => Promise<(report: Report) => string>> = {
  pretty: async () => (await import("./report/pretty.js")).formatPretty,
  json: async () => (await import("./report/json.js")).formatJson,
  junit: async () => (await import("./report/junit.js")).formatJunit,
  tap: async () => (await import("./report/tap.js")).formatTap,
  html: async () => (await import("./report/html.js")).formatHtml,
};

const USAGE = `usage: tcespec <command> [options] PATH…

commands:
  run PATH…      run every .tce file under the paths
  check PATH…    report syntax and semantic errors only
  fmt [--check] PATH…  rewrite spec files in the canonical layout (--check: list the
                 files that would change and exit 1, for CI)
  matrix PATH…   print the semantics matrix (a row per spec, a column per profile)
  qemu setup 10.0  fetch Debian's QEMU 10.0 (bookworm-backports) into the cache;
                 'qemu setup 7.2' Debian 12's 7.2, for a host whose QEMU is another
  explore        random scenarios on two sides; each difference shrunk and written as a spec
                 --profiles A,B (two model profiles) or --backend model,qemu|model,kvm
                 [--seed N] [--budget 60s|10m|1h|N] [--out DIR] [--resume: go on where
                 the last run into DIR stopped; what it found is known] [--known PATH:
                 findings written earlier (files or folders), counted, not reported]
                 [--per-machine N: scenarios one real machine runs, a reset between
                 each (default 8)]. Exit 1 when it found anything new
  qemu build NAME (--debian 7.2|10.0 | --source DIR) [--patch FILE]… [--target tcg|kvm|all]
                 build qemu-system-ppc64 from Debian's source or your tree, for this
                 host (TCG) and for ppc64el (L1); cached by source, patches, flags and
                 toolchain. 'qemu builds' lists them, 'qemu rm NAME' removes one
  compare PATH…  the same specs on two real targets, side by side, and the expectations
                 answered differently: --backend qemu|kvm --qemu-build A [--qemu-build B]
                 (one build: against Debian's binary of its version) [--reporter pretty|html]
                 Exit 0 the same, 1 they differ, 2 trouble
  mutate [PATH…] build each mutant (mutants/*.patch on Debian's 7.2 source) and run the specs
                 (default: specs) on it under --backend kvm (default) or qemu; a mutant no
                 spec kills is a hole in the library [--mutants DIR]. Exit 0 all killed,
                 1 some survived, 2 trouble
  kvm setup      fetch Debian's packages and build the L1 image the kvm backend boots
                 [--kernel VERSION|NAME] [--qemu-version 10.0: bookworm-backports' QEMU in L1]
                 [--fast-dma: also build L0 (the pseries host) from Debian's 7.2 with edu's
                 DMAs at once instead of 100 ms each; the kvm backend then uses it]
  kvm info       what L1 images and kernel builds are cached (kernel, QEMU, sizes)
  kvm kernel build NAME (--debian 6.12 | --source DIR) [--patch FILE]… [--kasan]
                 [--kernel-rules R]
                 build L1's kernel (ppc64le, KVM-HV and vfio built in) from Debian's
                 source or your tree; cached by source, patches, configuration and
                 toolchain. --kernel NAME boots it; R (default linux-6) is what the
                 model plays for it. 'kvm kernels' lists them, 'kvm kernel rm NAME'
                 removes one
  lsp --stdio    the language server editors start (docs/editors.md)

run options:
  --profile P        run under profile P only (repeatable; ${PROFILE_NAMES.join(", ")})
  --reporter R[:FILE]  pretty (default), json, junit, tap or html (one self-contained
                     page: matrix with filters, each divergence with its tables);
                     repeatable, each to its FILE: --reporter junit:out.xml
                     --reporter html:report.html --reporter pretty
  --output FILE      write the report to FILE instead of standard output
  --tag T            only specs tagged T (repeatable)
  --grep TEXT        only specs whose name contains TEXT
  --bail             stop at the first divergence
  --pass-with-no-specs  exit 0 when nothing ran (otherwise 2: a mistyped path,
                     tag, name or shard must not pass)
  --jobs N           worker threads / QEMU processes (default: the number of cores)
  --shard i/n        run the i-th of n stable parts of the suite
  --backend B        model (default), qemu (QEMU 7.2 under TCG), kvm (real KVM,
                     nested in TCG off POWER); model,qemu,kvm compares the model
                     with each real backend named
  --qemu PATH        the qemu-system-ppc64 binary (default: the one 'qemu setup V'
                     fetched, else from PATH); its --version must be V's
  --qemu-version V   7.2 (default) or 10.0 ('tcespec qemu setup 10.0'); its runs
                     stand for profile qemu-V, and a QEMU of another version is
                     refused. On the kvm backend, the QEMU in L1 ('kvm setup
                     --qemu-version V'). Every report names the QEMU (and kernel)
                     that judged
  --qemu-build NAME  run a QEMU built by 'tcespec qemu build' (qemu backend: its host
                     binary; kvm backend: its ppc64el binary over L1's QEMU). Its runs
                     stand for --profile P if given (one), else its base version's;
                     every report names the build, its base and its patches
  --kernel K         the kernel L1 boots on the kvm backend: a Debian ppc64le kernel
                     version ('kvm setup --kernel VERSION'), or a kernel build's name
                     ('kvm kernel build NAME'); every report names it and its patches
  --kernel-rules R   the host kernel's TCE hypercalls the model plays for every profile:
                     ${KERNEL_RULES_NAMES.join(", ")} (default: each profile's own; a
                     kernel build's when --kernel names one)
  --kvm-host H       the machine L1 is on the kvm backend off POWER: pseries (default:
                     a pseries guest running KVM-HV nested) or powernv (a POWER9 server,
                     QEMU 10.0's powernv9, running KVM-HV on bare metal, as POWER hosts
                     do; 'tcespec qemu setup 10.0' first). Every report names the host
  --timeout MS       per-spec timeout on a real backend (default 10000 on qemu, 20000
                     on kvm, 60000 on a PowerNV host or a KASAN kernel)
matrix options:
  --format F         markdown (default) or html; --output FILE
general:
  -v/--version, -h/--help/help, --debug (stack traces for internal errors; L1's
                     console and monitor logs kept in a file each kvm error names)
`;

class UsageError extends Error {}
/** A file that cannot be written or read, a build that is not there: one line, no usage text. */
class FileError extends Error {}

type Writer = (text: string) => void;

function parseShard(text: string): { index: number; count: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || count < 1 || index < 1 || index > count) throw new UsageError(`--shard takes i/n with 1 ≤ i ≤ n, not '${text}'`);
  return { index, count };
}

/**
 * --qemu-build NAME (once, for run and explore), and the profile its runs stand for: the one
 * --profile names, else the build's base version's.
 */
function buildOptions(values: { "qemu-build"?: string[]; profile?: string[]; "qemu-version"?: string }): { qemuBuild?: string; standsFor?: ProfileName } {
  const builds = values["qemu-build"];
  if (!builds) return {};
  if (builds.length > 1) throw new UsageError("--qemu-build names one build here ('tcespec compare' takes two)");
  if (values["qemu-version"]) throw new UsageError("--qemu-version and --qemu-build: a build is of its own base version");
  const profiles = parseProfiles(values.profile);
  if (profiles && profiles.length > 1) throw new UsageError("with --qemu-build, --profile names the one profile the build stands for");
  return { qemuBuild: builds[0]!, ...(profiles ? { standsFor: profiles[0]! } : {}) };
}

function parseProfiles(values: string[] | undefined): ProfileName[] | undefined {
  if (!values) return undefined;
  for (const p of values)
    if (!(PROFILE_NAMES as readonly string[]).includes(p)) throw new UsageError(`unknown profile '${p}' (profiles: ${PROFILE_NAMES.join(", ")})`);
  return values as ProfileName[];
}

/** --kvm-host H: the machine L1 is on the kvm backend (pseries, powernv). */
function kvmHostOption(value: string | undefined): { kvmHost?: string } {
  if (value === undefined) return {};
  if (!isHostName(value)) throw new UsageError(`--kvm-host takes ${HOST_NAMES.join(" or ")}, not '${value}'`);
  return { kvmHost: value };
}

/** --kernel-rules R: the model plays host kernel R's TCE hypercalls for every profile. */
function kernelRulesOption(value: string | undefined): { kernelRules?: KernelRulesName } {
  if (value === undefined) return {};
  if (!isKernelRules(value)) throw new UsageError(`--kernel-rules takes ${KERNEL_RULES_NAMES.join(", ")}, not '${value}'`);
  return { kernelRules: value };
}

async function backendsFor(names: string, options: BackendOptions): Promise<Backend[]> {
  const { createBackend, UnknownBackendError, BackendUnavailableError } = await import("./backends/index.js");
  const named = [...new Set(names.split(",").map((s) => s.trim()))];
  const made = new Map<string, Backend>();
  const make = async (name: string, with_: BackendOptions) => {
    try {
      made.set(name, await createBackend(name, with_));
    } catch (error) {
      if (error instanceof UnknownBackendError) throw new UsageError(error.message);
      if (error instanceof BackendUnavailableError) throw new FileError(error.message);
      throw error;
    }
  };
  // Real backends first: the model beside the kvm backend plays the kernel L1 runs (Debian's 6.x,
  // or a build's rules), so that a WARN that kernel gives under an old QEMU's profile is its answer too.
  for (const name of named.filter((n) => n !== "model")) await make(name, options);
  // …and the host whose IOMMU it runs on (--kvm-host's, or a POWER host's own: PowerNV).
  const kvm = made.get("kvm") as { kernelRules?: KernelRulesName; host?: string } | undefined;
  const beside = { ...options, ...(kvm?.kernelRules && !options.kernelRules ? { kernelRules: kvm.kernelRules } : {}), ...(kvm?.host ? { kvmHost: kvm.host } : {}) };
  if (named.includes("model")) await make("model", beside);
  return named.map((n) => made.get(n)!);
}

/** For each profile asked for that a real backend of the run does not stand for: the flag or setup that would run it there. */
function profileHints(asked: string[] | undefined, backends: readonly Backend[]): string[] {
  const real = backends.filter((b) => b.name !== "model");
  if (!asked || real.length === 0) return [];
  return asked.flatMap((profile) => {
    const missing = real.filter((b) => !b.profiles.includes(profile as ProfileName));
    if (missing.length === 0) return [];
    const on = missing.map((b) => `${b.name} stands for ${b.profiles.join(", ") || "no profile"}`).join("; ");
    const version = /^qemu-(7\.2|10\.0)$/.exec(profile)?.[1];
    const fix = version
      ? `add --qemu-version ${version}${version === "10.0" ? ` (fetch it first: 'tcespec qemu setup 10.0' for --backend qemu, 'tcespec kvm setup --qemu-version 10.0' for --backend kvm)` : ""}`
      : `a real backend runs ${profile} only on a QEMU build that behaves so: --qemu-build NAME --profile ${profile} (docs/own-qemu.md: build one, e.g. with the seed's fix reverted), or run the model beside it (--backend model,${real[0]!.name})`;
    return [`--backend ${missing.map((b) => b.name).join(" and ")} ran nothing under ${profile} (${on}): ${fix}`];
  });
}

/**
 * `--reporter NAME` or `--reporter NAME:FILE`, as often as wanted (the form vitest and Playwright
 * users know): each writes the same run's report, to its file or to standard output. `--output
 * FILE` is the file of the one reporter named without a file; two reporters cannot share
 * standard output.
 */
function parseReporters(given: string[] | undefined, outputFile: string | undefined): { name: string; file?: string }[] {
  const named = (given ?? ["pretty"]).map((spec) => {
    const colon = spec.indexOf(":");
    const name = colon < 0 ? spec : spec.slice(0, colon);
    const file = colon < 0 ? undefined : spec.slice(colon + 1);
    if (!Object.hasOwn(REPORTERS, name)) throw new UsageError(`unknown reporter '${name}' (reporters: ${Object.keys(REPORTERS).join(", ")}; NAME:FILE writes one to a file)`);
    if (file === "") throw new UsageError(`--reporter ${spec}: name the file after the colon, or leave the colon out`);
    return { name, file };
  });
  const toStdout = named.filter((r) => r.file === undefined);
  if (toStdout.length > 1 && !outputFile)
    throw new UsageError(`--reporter ${toStdout.map((r) => r.name).join(" and ")} would both write to standard output: give each but one a file (NAME:FILE)`);
  if (toStdout.length > 1) throw new UsageError(`--output names one file, for one reporter: give the others their own (NAME:FILE)`);
  if (outputFile && toStdout.length === 0) throw new UsageError("--output FILE is for a reporter named without a file: every --reporter here has its own (NAME:FILE)");
  return named.map((r) => (r.file === undefined && outputFile ? { ...r, file: outputFile } : r));
}

function output(path: string | undefined, write: Writer): Writer {
  if (!path) return write;
  return (text) => {
    try {
      writeFileSync(path, text);
    } catch (error) {
      throw new FileError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
}

export async function main(
  argv: string[],
  write: Writer = (t) => process.stdout.write(t),
  writeError: Writer = (t) => process.stderr.write(t),
): Promise<number> {
  const debug = argv.includes("--debug");
  // --debug keeps what real machines printed: L1's console and its monitors' answers, in a file
  // every kvm error names (TCESPEC_KVM_CONSOLE chooses the file).
  if (debug && !process.env.TCESPEC_KVM_CONSOLE) {
    const { tmpdir } = await import("node:os");
    process.env.TCESPEC_KVM_CONSOLE = `${tmpdir()}/tcespec-l1-console-${process.pid}.log`;
  }
  try {
    return await dispatch(argv, write, writeError);
  } catch (error) {
    if (error instanceof UsageError) {
      writeError(`tcespec: ${error.message}\n${USAGE}`);
      return 2;
    }
    if (error instanceof FileError) {
      writeError(`tcespec: ${error.message}\n`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    writeError(
      `tcespec: internal error: ${message}${debug && error instanceof Error ? `\n${error.stack}` : " (run with --debug for the stack trace)"}\n`,
    );
    return 2;
  }
}

async function dispatch(argv: string[], write: Writer, writeError: Writer): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        profile: { type: "string", multiple: true },
        reporter: { type: "string", multiple: true },
        output: { type: "string" },
        tag: { type: "string", multiple: true },
        grep: { type: "string" },
        bail: { type: "boolean" },
        "pass-with-no-specs": { type: "boolean" },
        check: { type: "boolean" },
        jobs: { type: "string" },
        shard: { type: "string" },
        backend: { type: "string" },
        qemu: { type: "string" },
        kernel: { type: "string" },
        "qemu-version": { type: "string" },
        "qemu-build": { type: "string", multiple: true },
        debian: { type: "string" },
        source: { type: "string" },
        patch: { type: "string", multiple: true },
        target: { type: "string" },
        mutants: { type: "string" },
        profiles: { type: "string" },
        seed: { type: "string" },
        budget: { type: "string" },
        out: { type: "string" },
        timeout: { type: "string" },
        format: { type: "string" },
        version: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
        debug: { type: "boolean" },
        stdio: { type: "boolean" },
        kasan: { type: "boolean" },
        "kernel-rules": { type: "string" },
        "kvm-host": { type: "string" },
        resume: { type: "boolean" },
        known: { type: "string", multiple: true },
        "per-machine": { type: "string" },
        "fast-dma": { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    write(`tcespec ${VERSION}\n`);
    return 0;
  }
  if (values.help) {
    write(USAGE);
    return 0;
  }
  const [command, ...paths] = positionals;
  if (command === "help") {
    write(USAGE);
    return 0;
  }
  if (!command) throw new UsageError("a command is needed");
  if (!["run", "check", "matrix", "kvm", "qemu", "explore", "fmt", "lsp", "compare", "mutate"].includes(command)) throw new UsageError(`unknown command '${command}'`);
  if (command === "lsp") {
    if (!values.stdio) throw new UsageError("lsp talks over standard input and output: tcespec lsp --stdio");
    const { startServer } = await import("./lsp/server.js");
    const connection = startServer();
    // The connection ends the process on the client's `exit`; until then the server answers.
    return new Promise<number>((resolve) => connection.onExit(() => resolve(0)));
  }
  if (command === "fmt") return fmtCommand(paths, values.check ?? false, write, writeError);
  if (command === "explore") return exploreCommand(values, argv.join(" "), writeError, write);
  if (command === "qemu") return qemuCommand(paths, values, write, writeError);
  if (command === "compare") return compareCommand(paths, values, write, writeError);
  if (command === "mutate") return mutateCommand(paths, values, write, writeError);
  if (command === "kvm") return paths[0] === "kernel" || paths[0] === "kernels" ? kvmKernelCommand(paths, values, write, writeError) : kvmCommand(paths, values.kernel, values["qemu-version"], values["fast-dma"] ?? false, write, writeError);
  if (paths.length === 0) throw new UsageError(`'${command}' needs at least one PATH`);
  const { run, compileFiles } = await import("./run/runner.js");
  const { formatDiagnostic } = await import("./compile/diagnostics.js");
  // Colour for a terminal only; never into a file, never with NO_COLOR.
  kleur.enabled =
    !("NO_COLOR" in process.env) &&
    !values.output &&
    (process.stdout.isTTY === true || (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0"));

  if (command === "check") {
    const { files, missing } = compileFiles(paths);
    for (const m of missing) writeError(`${m}: no such file or directory\n`);
    let errors = missing.length;
    for (const file of files) {
      for (const d of file.diagnostics) writeError(`${formatDiagnostic(d, file.source)}\n`);
      errors += file.diagnostics.length;
    }
    write(`${files.length} file${files.length === 1 ? "" : "s"} checked, ${errors} error${errors === 1 ? "" : "s"}\n`);
    return errors > 0 ? 2 : 0;
  }

  const reporters = parseReporters(values.reporter, values.output);
  const format = values.format ?? "markdown";
  if (format !== "markdown" && format !== "html") throw new UsageError(`--format takes markdown or html, not '${format}'`);
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1))
    throw new UsageError(`--jobs takes a positive whole number, not '${values.jobs}'`);
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0))
    throw new UsageError(`--timeout takes milliseconds, not '${values.timeout}'`);
  const backendNames = command === "matrix" ? "model" : (values.backend ?? "model");
  if (values["qemu-build"] && !backendNames.split(",").some((n) => ["qemu", "kvm"].includes(n.trim())))
    throw new UsageError("--qemu-build runs a build on real software: add --backend qemu or --backend kvm (model,kvm compares it with the model)");
  const options: RunOptions = {
    profiles: parseProfiles(values.profile),
    tags: values.tag,
    grep: values.grep,
    bail: values.bail ?? false,
    jobs,
    shard: values.shard === undefined ? undefined : parseShard(values.shard),
    backends: await backendsFor(backendNames, {
      qemu: values.qemu,
      timeoutMs: timeout,
      kernel: values.kernel,
      ...kernelRulesOption(values["kernel-rules"]),
      ...kvmHostOption(values["kvm-host"]),
      qemuVersion: values["qemu-version"],
      bail: values.bail ?? false,
      ...buildOptions(values),
    }),
  };

  if (command === "matrix") {
    const { formatMatrixHtml, formatMatrixMarkdown } = await import("./report/matrix.js");
    const report = await run(paths, options);
    for (const file of report.files) for (const d of file.diagnostics) writeError(`${formatDiagnostic(d, file.source)}\n`);
    const source = { paths, command: `tcespec matrix ${paths.join(" ")} --format ${format}` };
    output(values.output, write)(format === "html" ? formatMatrixHtml(report, source) : formatMatrixMarkdown(report, source));
    return report.files.some((f) => f.diagnostics.length > 0) || report.missing.length > 0 ? 2 : 0;
  }

  const formats = await Promise.all(reporters.map(async ({ name, file }) => ({ file, format: await REPORTERS[name]!() })));
  const { exitCode } = await import("./report/summary.js");
  // Real machines take minutes: on a terminal, how many of their runs are done.
  const live = process.stderr.isTTY === true && options.backends!.some((b) => b.real) ? progressWriter(writeError) : undefined;
  if (live) options.progress = (done, total) => live.say(`${done}/${total} runs on real machines`);
  const report = await run(paths, options);
  live?.end();
  // Diagnostics on stderr, results on stdout (or each reporter's file), for every reporter.
  for (const missing of report.missing) writeError(`${missing}: no such file or directory\n`);
  for (const file of report.files) for (const d of file.diagnostics) writeError(`${formatDiagnostic(d, file.source)}\n`);
  try {
    for (const { file, format } of formats) {
      // Colour never goes into a file (pretty:FILE beside a terminal's pretty).
      const colour = kleur.enabled;
      if (file) kleur.enabled = false;
      try {
        output(file, write)(format(report));
      } finally {
        kleur.enabled = colour;
      }
    }
  } finally {
    await Promise.all(options.backends!.map((b) => b.close?.()));
  }
  // A run that executed nothing must not pass quietly: a mistyped path, tag or shard in CI.
  const executed = report.runs.filter((r) => r.status !== "unsupported").length;
  if (executed === 0 && !values["pass-with-no-specs"] && exitCode(report) === 0) {
    const looked = [
      `in ${paths.join(", ")}`,
      ...(values.tag ? [`tagged ${values.tag.join(" or ")}`] : []),
      ...(values.grep ? [`named *${values.grep}*`] : []),
      ...(values.profile ? [`under ${values.profile.join(", ")}`] : []),
      ...(values.shard ? [`in shard ${values.shard}`] : []),
      `on ${options.backends!.map((b) => b.name).join(", ")}`,
    ].join(", ");
    writeError(
      `tcespec: nothing ran: ${report.runs.length === 0 ? "no spec" : `all ${report.runs.length} runs unsupported`} ${looked} (--pass-with-no-specs allows it)\n`,
    );
    for (const hint of profileHints(values.profile, options.backends!)) writeError(`tcespec: ${hint}\n`);
    return 2;
  }
  // A profile asked for that a real backend of the run does not stand for: say which flag would run it there.
  if (executed > 0) for (const hint of profileHints(values.profile, options.backends!)) writeError(`tcespec: note: ${hint}\n`);
  return exitCode(report);
}

async function fmtCommand(paths: string[], check: boolean, write: Writer, writeError: Writer): Promise<number> {
  if (paths.length === 0) throw new UsageError("'fmt' needs at least one PATH");
  const { format } = await import("./format/format.js");
  const { findSpecFiles, readSpecFile } = await import("./run/files.js");
  const { compileSource } = await import("./compile/index.js");
  const { formatDiagnostic } = await import("./compile/diagnostics.js");
  const { writeFileSync } = await import("node:fs");
  const { files, missing } = findSpecFiles(paths);
  for (const m of missing) writeError(`${m}: no such file or directory\n`);
  let changed = 0;
  let broken = missing.length;
  for (const file of files) {
    const read = readSpecFile(file);
    if (read.text === undefined) {
      writeError(`${file}: ${read.error}\n`);
      broken++;
      continue;
    }
    const formatted = format(read.text);
    if (formatted === undefined) {
      // Left as it is: the syntax errors say why.
      const compiled = compileSource(file, read.text);
      for (const d of compiled.diagnostics.slice(0, 3)) writeError(`${formatDiagnostic(d, compiled.source)}\n`);
      writeError(`${file}: not formatted (syntax errors)\n`);
      broken++;
      continue;
    }
    if (formatted === read.text) continue;
    changed++;
    if (check) write(`${file}\n`);
    else {
      try {
        writeFileSync(file, formatted);
      } catch (error) {
        throw new FileError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      write(`formatted ${file}\n`);
    }
  }
  if (check && changed > 0) writeError(`${changed} file${changed === 1 ? "" : "s"} not in the canonical layout: run tcespec fmt\n`);
  return broken > 0 ? 2 : check && changed > 0 ? 1 : 0;
}

async function exploreCommand(
  values: {
    profiles?: string;
    backend?: string;
    seed?: string;
    budget?: string;
    out?: string;
    qemu?: string;
    "qemu-version"?: string;
    "qemu-build"?: string[];
    profile?: string[];
    kernel?: string;
    "kernel-rules"?: string;
    "kvm-host"?: string;
    jobs?: string;
    timeout?: string;
    resume?: boolean;
    "per-machine"?: string;
    known?: string[];
  },
  argv: string,
  writeError: Writer,
  write: Writer,
): Promise<number> {
  const { explore, abilitiesOf } = await import("./explore/explore.js");
  const { readState, writeState, knownSignatures, STATE_FILE } = await import("./explore/state.js");
  const { Random } = await import("./explore/random.js");
  const { realSides, standIns } = await import("./explore/sides.js");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { ModelBackend } = await import("./backends/model.js");
  const { RealBackend } = await import("./backends/real/pipeline.js");
  const { availableParallelism } = await import("node:os");
  const whole = (name: string, text: string | undefined, least: number) => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < least) throw new UsageError(`--${name} takes a whole number of at least ${least}, not '${text}'`);
    return n;
  };
  const jobs = whole("jobs", values.jobs, 1) ?? availableParallelism();
  const perMachine = whole("per-machine", values["per-machine"], 1);
  const timeoutMs = whole("timeout", values.timeout, 1);
  const out = values.out ?? "explore-findings";
  // --resume: the seed's sequence goes on where the last run into --out stopped (from its start
  // where none did: a nightly job's first night), and what that run found is known.
  const state = values.resume ? readState(join(out, STATE_FILE)) : undefined;
  if (state && "problem" in state) throw new FileError(`--resume: ${state.problem}`);
  const resumed = state;
  const known = knownSignatures(values.known ?? []);
  if ("problem" in known) throw new FileError(`--known: ${known.problem}`);
  for (const signature of resumed?.signatures ?? []) known.add(signature);
  if (resumed && values.seed !== undefined && Number(values.seed) !== resumed.seed)
    throw new UsageError(`--resume goes on with seed ${resumed.seed} (${join(out, STATE_FILE)}), not --seed ${values.seed}`);
  const seed = resumed ? resumed.seed : values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed takes a whole number, not '${values.seed}'`);
  const budget = values.budget ?? "60s";
  const time = /^(\d+)(s|m|h)$/.exec(budget);
  const count = /^\d+$/.test(budget) ? Number(budget) : undefined;
  if (!time && count === undefined) throw new UsageError(`--budget takes a time (60s, 10m, 1h) or a number of scenarios, not '${budget}'`);
  const ms = time ? Number(time[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[time[2] as "s" | "m" | "h"] : undefined;
  type Options = Parameters<typeof explore>[0];
  let sides: Options["sides"];
  let abilities: Options["abilities"];
  let stand: Options["standIns"] = [];
  let perMachineDefault = 1;
  if (values.profiles) {
    const names = values.profiles.split(",").map((s) => s.trim());
    const profiles = parseProfiles(names);
    if (!profiles || profiles.length !== 2) throw new UsageError("--profiles takes two profiles, A,B");
    // The model plays the host kernel's rules (--kernel-rules, or the kernel build's), as on run.
    const [model] = (await backendsFor("model", { kernel: values.kernel, ...kernelRulesOption(values["kernel-rules"]) })) as [InstanceType<typeof ModelBackend>];
    sides = [
      { name: profiles[0]!, run: (spec) => model.runSync(spec, profiles[0]!) },
      { name: profiles[1]!, run: (spec) => model.runSync(spec, profiles[1]!) },
    ];
    abilities = { machine: "any", vfio: true, unplug: true, devices: true, resetMigrate: true };
  } else {
    const names = (values.backend ?? "").split(",").map((s) => s.trim());
    if (names.length !== 2 || names[0] !== "model" || !["qemu", "kvm"].includes(names[1]!))
      throw new UsageError("explore takes --profiles A,B or --backend model,qemu or --backend model,kvm");
    // As on run: the model plays the kernel the target runs (--kernel-rules, a kernel build's, L1's 6.x).
    const [model, real] = (await backendsFor(`model,${names[1]}`, {
      qemu: values.qemu,
      qemuVersion: values["qemu-version"],
      kernel: values.kernel,
      // A machine runs --per-machine scenarios: the backend's own timeout (its host's) grows with them.
      ...(timeoutMs !== undefined ? { timeoutMs } : { timeoutScale: perMachine ?? 8 }),
      ...kernelRulesOption(values["kernel-rules"]),
      ...kvmHostOption(values["kvm-host"]),
      ...buildOptions(values),
      // The explorer's guests mostly wait (each DMA of the passed-through edu 100 ms): L0 skips that.
      ...(names[1] === "kvm" ? { idleSkips: true } : {}),
    })) as [InstanceType<typeof ModelBackend>, Backend];
    if (!(real instanceof RealBackend)) throw new UsageError(`${names[1]} is not a real target`);
    sides = realSides(model, real, jobs);
    // What the target can run, from its own traits; a difference another profile or kernel of the
    // model shows too is shrunk on the model (fast) and confirmed on the target once.
    abilities = abilitiesOf(real.traits);
    stand = standIns(model, real.profiles[0]!);
    perMachineDefault = 8;
  }
  const tty = process.stderr.isTTY === true;
  let last = 0;
  mkdirSync(out, { recursive: true });
  // Each finding is written as soon as it is shrunk, and where --resume goes on from after each
  // batch: a run stopped later (a CI job's limit, a kill) keeps what it found. Findings of earlier
  // runs into the same folder (--resume) keep their files: numbering goes on.
  const first = resumed?.written ?? 0;
  const kept: { kind: string; signature: string }[] = [];
  // The sequence resumes from the last whole batch; what was written counts at once (a resumed
  // run numbers its files after them, and knows their signatures).
  let lastBatch: ExploreState | undefined = resumed;
  const checkpoint = (state: ExploreState | undefined) => {
    lastBatch = state;
    if (!state) return;
    writeState(join(out, STATE_FILE), {
      seed: state.seed,
      tried: state.tried,
      random: state.random,
      avoid: state.avoid,
      written: first + kept.length,
      signatures: [...(resumed?.signatures ?? []), ...kept.map((f) => f.signature)],
      command: `tcespec ${argv}`,
    });
  };
  const result = await explore({
    seed,
    count,
    ms,
    // A finding met late is written shrunk as far as the budget allowed (it says so), not after it.
    ...(ms !== undefined ? { shrinkUntil: Date.now() + ms } : {}),
    sides,
    abilities,
    standIns: stand,
    perMachine: perMachine ?? perMachineDefault,
    // A batch runs to its end before the budget is looked at again: under nested KVM (about half a
    // scenario a second) four machines a lane keep a batch near two minutes, the L1 boot a tenth of it.
    ...(abilities.machine === "kvm" ? { batch: 4 * jobs } : {}),
    ...(resumed ? { resume: resumed } : {}),
    known,
    command: `tcespec ${argv}`,
    progress: (p) => {
      // What is found is said at once: shrinking it on a real target can take long.
      if (p.what) writeError(`${tty ? "\r\x1b[K" : ""}found: ${p.what}\n`);
      if (Date.now() - last < 250 && !p.shrinking) return;
      last = Date.now();
      const line = `${p.tried} scenarios tried (${p.skipped} could not run on both), ${p.found} difference${p.found === 1 ? "" : "s"} found${p.shrinking ? ", shrinking…" : ""}`;
      writeError(tty ? `\r\x1b[K${line}` : `${line}\n`);
    },
    onFinding: (finding) => {
      kept.push(finding);
      const name = `${finding.kind === "crash" ? "crash" : "difference"}-${String(first + kept.length).padStart(3, "0")}.tce`;
      // The file and the state first, then the line that names it: whoever reads the line finds both.
      writeFileSync(join(out, name), finding.text);
      checkpoint(lastBatch ?? { seed, tried: 0, random: new Random(seed).saved(), avoid: {} });
      write(`${tty ? "\r\x1b[K" : ""}${join(out, name)}: ${finding.signature} (${finding.statements} statements, shrunk on ${finding.shrunkOn})\n`);
      // Every written spec was run: one that does not show the finding again says why (a flaky
      // real run, or a bug of the explorer's), rather than passing for a reproducer.
      if (finding.reproduces !== true) writeError(`tcespec: ${join(out, name)} does not reproduce it: ${finding.reproduces}\n`);
    },
    onBatch: checkpoint,
  });
  if (tty) writeError("\n");
  checkpoint(result.state);
  for (const { signature, count: n } of result.known) write(`  known, met again in ${n} scenario${n === 1 ? "" : "s"}: ${signature}\n`);
  const differences = result.findings.filter((f) => f.kind === "difference").length;
  const crashes = result.findings.length - differences;
  for (const { reason, count: n } of result.unsupported) write(`  ${n} scenario${n === 1 ? "" : "s"} could not run: ${reason}\n`);
  for (const { reason, count: n } of result.takenOut) write(`  ${n} statement${n === 1 ? "" : "s"} taken out before running: ${reason}\n`);
  for (const { reason, count: n } of result.unseen) write(`  ${n} answer${n === 1 ? "" : "s"} not seen, so not compared: ${reason}\n`);
  for (const [kind, why] of Object.entries(result.avoided)) write(`  steered away from ${kind} (${why})\n`);
  write(
    `${result.tried} scenarios (seed ${seed}${resumed ? `, from scenario ${resumed.tried + 1}` : ""}; ${result.skipped} could not run on both): ${differences} difference${differences === 1 ? "" : "s"}, ${crashes} crash${crashes === 1 ? "" : "es"} or error${crashes === 1 ? "" : "s"}${result.findings.length > 0 ? `, written to ${out}` : ""}; --resume goes on from scenario ${result.state.tried + 1}\n`,
  );
  return result.findings.length > 0 ? 1 : 0;
}

async function qemuCommand(
  args: string[],
  values: { debian?: string; source?: string; patch?: string[]; target?: string },
  write: Writer,
  writeError: Writer,
): Promise<number> {
  const [what] = args;
  if (what === "build" || what === "builds" || what === "rm") return qemuBuildCommand(args, values, write, writeError);
  const [, version = "10.0", ...rest] = args;
  const { setupQemu, fetchedQemu, isQemuVersion, QEMU_VERSIONS } = await import("./backends/qemu/versions.js");
  if ((what !== "setup" && what !== "info") || rest.length > 0 || !isQemuVersion(version))
    throw new UsageError(`qemu takes 'setup' or 'info' and a version to fetch (${Object.keys(QEMU_VERSIONS).join(", ")}), or 'build', 'builds', 'rm'`);
  const { SetupError } = await import("./backends/kvm/apt.js");
  if (what === "info") {
    const fetched = fetchedQemu(version);
    write("problem" in fetched ? `${fetched.problem}\n` : `QEMU ${fetched.manifest.version}: ${fetched.binary}\n`);
    return "problem" in fetched ? 2 : 0;
  }
  try {
    const fetched = await setupQemu(version, (message) => writeError(`${message}\n`));
    write(`QEMU ${fetched.manifest.version} ready: ${fetched.binary}\n`);
    return 0;
  } catch (error) {
    if (error instanceof SetupError) {
      writeError(`tcespec: qemu setup: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/**
 * A progress line on standard error: rewritten in place on a terminal; otherwise (a CI log) a line
 * per phase, and a phase's counts once a minute.
 */
function progressWriter(writeError: Writer): { say: (message: string) => void; end: () => void } {
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  let phase = "";
  let printed = 0;
  return {
    say: (message) => {
      const now = Date.now();
      if (!tty) {
        const same = message.replace(/\d+/g, "#");
        if (same === phase && now - printed < 60_000 && !/done$/.test(message)) return;
        phase = same;
        printed = now;
      }
      writeError(`${tty ? "\r\x1b[K" : ""}[${((now - started) / 1000).toFixed(0).padStart(3)} s] ${message}${tty ? "" : "\n"}`);
    },
    end: () => {
      if (tty) writeError("\n");
    },
  };
}

async function qemuBuildCommand(
  args: string[],
  values: { debian?: string; source?: string; patch?: string[]; target?: string },
  write: Writer,
  writeError: Writer,
): Promise<number> {
  const [what, name, ...rest] = args;
  const { buildQemu, listBuilds, removeBuild, describeBuild, BUILD_TARGETS } = await import("./backends/qemu/build.js");
  const { isQemuVersion, QEMU_VERSIONS } = await import("./backends/qemu/versions.js");
  const { SetupError } = await import("./backends/kvm/apt.js");
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  if (what === "builds") {
    if (name) throw new UsageError("qemu builds takes no argument");
    const builds = listBuilds();
    if (builds.length === 0) write("no QEMU builds: 'tcespec qemu build NAME --debian 7.2 [--patch FILE]…' makes one\n");
    for (const build of builds) {
      if ("problem" in build) {
        write(`${build.dir}: unusable (${build.problem})\n`);
        continue;
      }
      const m = build.manifest;
      write(`${m.name}  QEMU ${m.base} from ${m.source.label}; built ${m.built}\n`);
      for (const p of m.patches) write(`  patch ${p.name}  sha256 ${p.sha256}\n`);
      for (const target of BUILD_TARGETS) {
        const t = m.targets[target];
        if (t) write(`  ${target}: ${build.binaries[target]} (${mib(t.bytes)})\n`);
      }
    }
    return 0;
  }
  if (!name || rest.length > 0) throw new UsageError(`qemu ${what} takes one NAME`);
  if (what === "rm") {
    if (!removeBuild(name)) {
      writeError(`tcespec: no QEMU build named '${name}'\n`);
      return 2;
    }
    write(`removed QEMU build '${name}'\n`);
    return 0;
  }
  if ((values.debian === undefined) === (values.source === undefined)) throw new UsageError("qemu build takes --debian VERSION or --source DIR (one of them)");
  if (values.debian !== undefined && !isQemuVersion(values.debian))
    throw new UsageError(`--debian takes a QEMU version tcespec knows (${Object.keys(QEMU_VERSIONS).join(", ")}), not '${values.debian}'`);
  const target = values.target ?? "all";
  if (target !== "all" && !(BUILD_TARGETS as readonly string[]).includes(target)) throw new UsageError(`--target takes tcg, kvm or all, not '${target}'`);
  const targets = target === "all" ? BUILD_TARGETS : [target as (typeof BUILD_TARGETS)[number]];
  const progress = progressWriter(writeError);
  try {
    const { build, cached } = await buildQemu({
      name,
      source: values.debian !== undefined ? { debian: values.debian as keyof typeof QEMU_VERSIONS } : { dir: values.source! },
      patches: values.patch ?? [],
      targets,
      progress: progress.say,
    });
    progress.end();
    write(`${describeBuild(build.manifest)}${cached.length === targets.length ? " (cached)" : ""}\n`);
    for (const t of targets) write(`  ${t}: ${build.binaries[t]}\n`);
    return 0;
  } catch (error) {
    progress.end();
    if (error instanceof SetupError) {
      writeError(`tcespec: qemu build: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

type CommandValues = Record<string, string | boolean | string[] | undefined>;

/** The run options compare and mutate share with run: selection, jobs, and the real backend's options. */
function realRunOptions(values: CommandValues) {
  const str = (k: string) => (typeof values[k] === "string" ? (values[k] as string) : undefined);
  const jobs = str("jobs") === undefined ? undefined : Number(str("jobs"));
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs takes a positive whole number, not '${str("jobs")}'`);
  const timeout = str("timeout") === undefined ? undefined : Number(str("timeout"));
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) throw new UsageError(`--timeout takes milliseconds, not '${str("timeout")}'`);
  const backend = str("backend") ?? "kvm";
  if (backend !== "kvm" && backend !== "qemu") throw new UsageError(`--backend takes qemu or kvm here (two real targets), not '${backend}'`);
  return {
    backend: backend as "kvm" | "qemu",
    run: { tags: values.tag as string[] | undefined, grep: str("grep"), jobs },
    backendOptions: { qemu: str("qemu"), timeoutMs: timeout, kernel: str("kernel"), ...kernelRulesOption(str("kernel-rules")) },
  };
}

async function compareCommand(paths: string[], values: CommandValues, write: Writer, writeError: Writer): Promise<number> {
  if (paths.length === 0) throw new UsageError("'compare' needs at least one PATH");
  const builds = (values["qemu-build"] as string[] | undefined) ?? [];
  if (builds.length < 1 || builds.length > 2) throw new UsageError("compare takes --qemu-build A, and --qemu-build B or nothing (then Debian's binary of A's version)");
  const given = values.reporter as string[] | undefined;
  if (given && given.length > 1) throw new UsageError("compare takes one --reporter (pretty or html)");
  const reporter = given?.[0] ?? "pretty";
  if (reporter !== "pretty" && reporter !== "html") throw new UsageError(`compare's --reporter is pretty or html, not '${reporter}'`);
  const common = realRunOptions(values);
  const profiles = parseProfiles(values.profile as string[] | undefined);
  if (profiles && profiles.length > 1) throw new UsageError("compare's --profile names the one profile the builds stand for");
  const { run } = await import("./run/runner.js");
  const { compareReports } = await import("./run/compare.js");
  const { formatComparePretty, formatCompareHtml, comparisonCounts } = await import("./report/compare.js");
  const { formatDiagnostic } = await import("./compile/diagnostics.js");
  kleur.enabled = !("NO_COLOR" in process.env) && !values.output && process.stdout.isTTY === true;
  const sides = [builds[0]!, builds[1]];
  const reports = [];
  const described: { label: string; what: string }[] = [];
  for (const [i, build] of sides.entries()) {
    const label = i === 0 ? "A" : "B";
    const backend = (
      await backendsFor(common.backend, { ...common.backendOptions, ...(build ? { qemuBuild: build, ...(profiles ? { standsFor: profiles[0] } : {}) } : {}) })
    )[0]!;
    writeError(`${label}: running ${paths.join(" ")} on ${common.backend}${build ? ` with build '${build}'` : " with Debian's QEMU"}\n`);
    try {
      const report = await run(paths, { ...common.run, ...(build && profiles ? { profiles } : {}), backends: [backend] });
      if (i === 0) {
        for (const missing of report.missing) writeError(`${missing}: no such file or directory\n`);
        for (const file of report.files) for (const d of file.diagnostics) writeError(`${formatDiagnostic(d, file.source)}\n`);
      }
      reports.push(report);
      const identity = report.backends[0]?.identity;
      described.push({
        label,
        what: identity
          ? [identity.build ?? `Debian's binary: ${identity.qemu ?? "QEMU of unknown version"}`, identity.kernel ? `on Linux ${identity.kernel}` : ""].filter(Boolean).join(", ")
          : build
            ? `build '${build}'`
            : "Debian's binary",
      });
    } finally {
      await backend.close?.();
    }
  }
  const comparison = { backend: common.backend, a: described[0]!, b: described[1]!, specs: compareReports(reports[0]!, reports[1]!) };
  output(values.output as string | undefined, write)(reporter === "html" ? formatCompareHtml(comparison) : formatComparePretty(comparison));
  const counts = comparisonCounts(comparison);
  if (counts.specs === 0) {
    writeError(`tcespec: nothing ran on either side in ${paths.join(", ")}\n`);
    return 2;
  }
  if (reports.some((r) => r.files.some((f) => f.diagnostics.length > 0) || r.missing.length > 0)) return 2;
  return counts.differ > 0 ? 1 : 0;
}

async function mutateCommand(paths: string[], values: CommandValues, write: Writer, writeError: Writer): Promise<number> {
  const common = realRunOptions(values);
  const { mutate, findMutants, formatMutate, mutateExitCode } = await import("./run/mutate.js");
  const { buildQemu } = await import("./backends/qemu/build.js");
  const { SetupError } = await import("./backends/kvm/apt.js");
  const { isQemuVersion } = await import("./backends/qemu/versions.js");
  const debian = (values.debian as string | undefined) ?? "7.2";
  if (!isQemuVersion(debian)) throw new UsageError(`--debian takes 7.2 or 10.0, not '${debian}'`);
  const mutants = findMutants((values.mutants as string | undefined) ?? "mutants");
  if ("problem" in mutants) throw new FileError(mutants.problem);
  const progress = progressWriter(writeError);
  try {
    const result = await mutate({
      paths: paths.length > 0 ? paths : ["specs"],
      mutants,
      debian,
      backend: common.backend,
      backendOptions: common.backendOptions,
      run: common.run,
      say: (message) => writeError(`${message}\n`),
      // The real build, with its progress on standard error.
      build: async (name, patches, target) => {
        await buildQemu({ name, source: { debian }, patches, targets: [target], progress: progress.say });
        progress.end();
      },
    });
    output(values.output as string | undefined, write)(formatMutate(result));
    return mutateExitCode(result);
  } catch (error) {
    progress.end();
    if (error instanceof SetupError) {
      writeError(`tcespec: mutate: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function kvmKernelCommand(
  args: string[],
  values: { debian?: string; source?: string; patch?: string[]; kasan?: boolean; "kernel-rules"?: string },
  write: Writer,
  writeError: Writer,
): Promise<number> {
  const { buildKernel, listKernels, removeKernel, describeKernel, KERNEL_FAMILIES } = await import("./backends/kvm/kernel.js");
  const { SetupError } = await import("./backends/kvm/apt.js");
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  if (args[0] === "kernels") {
    if (args.length > 1) throw new UsageError("kvm kernels takes no argument");
    const kernels = listKernels();
    if (kernels.length === 0) write("no kernel builds: 'tcespec kvm kernel build NAME --debian 6.12 [--patch FILE]… [--kasan]' makes one\n");
    for (const kernel of kernels) {
      if ("problem" in kernel) {
        write(`${kernel.dir}: unusable (${kernel.problem})\n`);
        continue;
      }
      const m = kernel.manifest;
      write(`${m.name}  Linux ${m.release} from ${m.source.label}${m.kasan ? ", KASAN" : ""}; the model plays ${m.rules}; built ${m.built}\n`);
      for (const p of m.patches) write(`  patch ${p.name}  sha256 ${p.sha256}\n`);
      write(`  vmlinux: ${kernel.vmlinux} (${mib(m.artifact.bytes)})\n  config: ${kernel.config}\n`);
    }
    return 0;
  }
  const [, what, name, ...rest] = args;
  if (what !== "build" && what !== "rm") throw new UsageError("kvm kernel takes 'build NAME' or 'rm NAME' ('kvm kernels' lists them)");
  if (!name || rest.length > 0) throw new UsageError(`kvm kernel ${what} takes one NAME`);
  if (what === "rm") {
    if (!removeKernel(name)) {
      writeError(`tcespec: no kernel build named '${name}'\n`);
      return 2;
    }
    write(`removed kernel build '${name}'\n`);
    return 0;
  }
  if ((values.debian === undefined) === (values.source === undefined)) throw new UsageError("kvm kernel build takes --debian VERSION or --source DIR (one of them)");
  if (values.debian !== undefined && !(KERNEL_FAMILIES as readonly string[]).includes(values.debian))
    throw new UsageError(`--debian takes a kernel version tcespec builds (${KERNEL_FAMILIES.join(", ")}), not '${values.debian}'`);
  const progress = progressWriter(writeError);
  try {
    const { build, cached } = await buildKernel({
      name,
      source: values.debian !== undefined ? { debian: values.debian } : { dir: values.source! },
      patches: values.patch ?? [],
      kasan: values.kasan ?? false,
      ...(values["kernel-rules"] !== undefined ? { rules: kernelRulesOption(values["kernel-rules"]).kernelRules } : {}),
      progress: progress.say,
    });
    progress.end();
    write(`${describeKernel(build.manifest)}${cached ? " (cached)" : ""}\n  Linux ${build.manifest.release}: ${build.vmlinux}\n  run it: --backend kvm --kernel ${name}\n`);
    return 0;
  } catch (error) {
    progress.end();
    if (error instanceof SetupError) {
      writeError(`tcespec: kvm kernel build: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function kvmCommand(args: string[], kernel: string | undefined, qemuVersion: string | undefined, fastDma: boolean, write: Writer, writeError: Writer): Promise<number> {
  const [what, ...rest] = args;
  if ((what !== "setup" && what !== "info") || rest.length > 0) throw new UsageError("kvm takes 'setup' or 'info'");
  if (fastDma && what !== "setup") throw new UsageError("--fast-dma goes with 'kvm setup'");
  const { isQemuVersion, QEMU_VERSIONS } = await import("./backends/qemu/versions.js");
  const qemu = qemuVersion ?? "7.2";
  if (!isQemuVersion(qemu)) throw new UsageError(`unknown QEMU version '${qemu}' for L1 (versions: ${Object.keys(QEMU_VERSIONS).join(", ")})`);
  const { setup, listImages, cacheRoot } = await import("./backends/kvm/image.js");
  const { SetupError } = await import("./backends/kvm/apt.js");
  const { findKernel, validKernelName, describeKernel } = await import("./backends/kvm/kernel.js");
  // A kernel build's name: L1 boots it with the default Debian kernel's image (its initramfs and QEMU).
  const built = kernel !== undefined && validKernelName(kernel) ? findKernel(kernel) : undefined;
  if (built && "problem" in built) {
    writeError(`tcespec: kvm ${what}: ${built.problem}\n`);
    return 2;
  }
  const booted = built ? `\n  L1 boots kernel build ${describeKernel(built.manifest)}: ${built.vmlinux}` : "";
  if (built) kernel = undefined;
  if (what === "info") {
    if (built) write(`kernel build ${describeKernel(built.manifest)}\n  Linux ${built.manifest.release}: ${built.vmlinux}\n  with the initramfs and QEMU of:\n`);
    const images = listImages();
    if (images.length === 0) write(`no L1 image in ${cacheRoot()}: run 'tcespec kvm setup'\n`);
    for (const image of images) {
      if ("problem" in image) {
        write(`${image.dir}: unusable (${image.problem})\n`);
        continue;
      }
      const m = image.manifest;
      const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
      write(
        `${image.dir}\n  kernel ${m.kernel} (vmlinux ${mib(m.files.vmlinux.bytes)})\n  qemu-system-ppc ${m.qemu} in L1; initramfs ${mib(m.files.initramfs.bytes)}, ${m.packages.length} packages\n  capability shim: ${m.shim ? "yes" : "no"}; built ${m.built}\n`,
      );
    }
    return 0;
  }
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  try {
    const image = await setup({
      kernel,
      qemu,
      progress: (message) => writeError(`${tty ? "\r\x1b[K" : ""}[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}${tty ? "" : "\n"}`),
    });
    if (tty) writeError("\n");
    write(`L1 image ready: kernel ${image.manifest.kernel}, qemu-system-ppc ${image.manifest.qemu}\n  ${image.dir}${booted}\n`);
    if (fastDma) {
      // L0 built from Debian's 7.2 with edu's DMA delay a property and the vhyp class kept (hosts.ts FAST_L0).
      const { FAST_L0 } = await import("./backends/kvm/hosts.js");
      const { buildQemu } = await import("./backends/qemu/build.js");
      const { packageRoot } = await import("./version.js");
      const progress = progressWriter(writeError);
      const { build, cached } = await buildQemu({ name: FAST_L0.build, source: { debian: "7.2" }, patches: FAST_L0.patches.map((patch) => `${packageRoot()}${patch}`), targets: ["tcg"], progress: progress.say }).finally(() => progress.end());
      write(`L0 for the pseries host: ${build.binaries.tcg}${cached.length > 0 ? " (cached)" : ""}\n  its edu devices' DMAs end at once, its hypercalls look no class up (the kvm backend uses it unless --qemu names another L0)\n`);
    }
    return 0;
  } catch (error) {
    if (tty) writeError("\n");
    if (error instanceof SetupError) {
      writeError(`tcespec: kvm setup: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

const invokedDirectly = process.argv[1] !== undefined && /[\\/]cli\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
