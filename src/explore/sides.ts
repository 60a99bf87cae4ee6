// The sides of `tcespec explore --backend model,T` (and the bench's): the model playing the
// target's profile and kernel, the target running whole batches, and the model's other profiles
// and kernels as stand-ins that may show the target's difference.
import { ModelBackend } from "../backends/model.js";
import type { RealBackend } from "../backends/real/pipeline.js";
import type { CompiledSpec } from "../compile/program.js";
import { KERNEL_RULES } from "../engine/kvm.js";
import { PROFILES } from "../engine/profiles.js";
import type { ProfileName } from "../engine/types.js";
import type { Side } from "./explore.js";

const modelSide = (model: ModelBackend, profile: ProfileName, name: string): Side => ({ name, run: (spec: CompiledSpec) => model.runSync(spec, profile) });

/** The model and the target, the target's runs in batches of `jobs` machines at once. */
export function realSides(model: ModelBackend, real: RealBackend<unknown>, jobs: number): [Side, Side] {
  const profile = real.profiles[0]!;
  return [
    modelSide(model, profile, `the model (${profile})`),
    {
      name: real.name,
      run: (spec) => real.run(spec, profile),
      // A batch at once: the target starts its machines (L1s, QEMUs) once for all of it.
      runMany: (specs) => real.runBatch(specs.map((spec) => ({ spec, profile })), jobs),
      refuses: (spec) => real.refuses(spec, profile),
    },
  ];
}

/** Every other profile × kernel rules of the model than the one `model` plays under `profile`, on its host. */
export function standIns(model: ModelBackend, profile: ProfileName): Side[] {
  return (Object.keys(PROFILES) as ProfileName[]).flatMap((p) =>
    Object.values(KERNEL_RULES)
      .filter((k) => !(p === profile && k.id === (model.kernelRules ?? PROFILES[p].kvm.id)))
      .map((k) => modelSide(new ModelBackend(false, k.id, model.host), p, `the model (${p}, ${k.id})`)),
  );
}
