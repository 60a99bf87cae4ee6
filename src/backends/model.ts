// The model backend: the engine plays the profile.
import { HOSTS, type HostName } from "../engine/host.js";
import { KERNEL_RULES, type KernelRulesName } from "../engine/kvm.js";
import type { CompiledSpec, Probe } from "../compile/program.js";
import { Engine } from "../engine/engine.js";
import type { ProfileName } from "../engine/types.js";
import { PROFILE_NAMES } from "../engine/profiles.js";
import { evaluate, type Target } from "../verdict/evaluate.js";
import type { RunResult } from "../verdict/outcome.js";
import { geometry, hex } from "../values.js";
import type { Backend, BackendRecipe } from "./backend.js";
import { unreachable } from "../unreachable.js";

export function observe(engine: Engine, probe: Exclude<Probe, { kind: "operation" }>): string {
  switch (probe.kind) {
    case "placement":
      return engine.placement(probe.liobn);
    case "geometry": {
      const g = engine.geometry(probe.liobn);
      return g ? geometry(g.windowSize, g.pageSize, probe.withOffset ? g.offset : undefined) : "absent";
    }
    case "guest": {
      const entry = engine.guestEntry(probe.liobn, probe.ioba);
      return entry === undefined ? (engine.placement(probe.liobn) === "absent" ? "absent" : "outside the window") : hex(entry);
    }
    case "hw-entry": {
      const entry = engine.hardwareEntry(probe.liobn, probe.ioba);
      return entry === undefined ? "outside the window" : entry === "absent" ? "absent" : hex(entry);
    }
    case "hw-state":
      return engine.hardwareState(probe.liobn);
    case "vfio":
      return engine.hasVfio(probe.phbIndex) ? "yes" : "no";
    case "windows":
      return String(engine.windowCount(probe.phbIndex));
    case "notifiers":
      return String(engine.notifierCount(probe.liobn));
    case "host":
      return probe.atExit ? engine.hostStateAtExit() : engine.hostState();
    default:
      return unreachable(probe);
  }
}

export class ModelBackend implements Backend {
  readonly name = "model";
  readonly profiles = PROFILE_NAMES;
  readonly real = false;
  readonly recipe: BackendRecipe;
  constructor(
    private readonly bail = false,
    /** The host kernel's rules for every profile (--kernel-rules, or a kernel build's), instead of each profile's own. */
    readonly kernelRules?: KernelRulesName,
    /** The host whose IOMMU it plays (--kvm-host): pseries when not given. */
    readonly host?: HostName,
  ) {
    this.recipe = { name: this.name, options: { bail, ...(kernelRules ? { kernelRules } : {}), ...(host ? { kvmHost: host } : {}) } };
  }

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    return this.runSync(spec, profile);
  }

  runSync(spec: CompiledSpec, profile: ProfileName): RunResult {
    const engine = new Engine(profile, spec.machine, this.kernelRules && KERNEL_RULES[this.kernelRules], this.host && HOSTS[this.host]);
    const target: Target = {
      apply: (operation) => engine.apply(operation),
      observe: (probe) => observe(engine, probe),
      picture: () => engine.picture(),
    };
    return evaluate(spec, profile, target, this.name, this.bail, this.kernelRules, this.host);
  }
}
