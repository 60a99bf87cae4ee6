import { KERNEL_RULES_NAMES, type KernelRulesName } from "../profile-names.js";
import { buildSourceSchema, patchesSchema } from "./qemu-build.js";

// The manifest of a host kernel built by tcespec (`tcespec kvm kernel build`): what it was built
// from, with which patches and configuration; every run L1 boots it for names all of it.
export const kernelBuildSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/kernel-build.schema.json",
  title: "tcespec kernel build manifest",
  type: "object",
  additionalProperties: false,
  required: ["version", "name", "base", "release", "source", "patches", "kasan", "rules", "artifact", "built"],
  properties: {
    version: { const: 1 },
    name: { type: "string", pattern: "^[A-Za-z][A-Za-z0-9._-]*$", description: "starts with a letter: --kernel takes a build's name or a Debian kernel version" },
    base: { type: "string", description: "the kernel's own version (make kernelversion), e.g. 6.12.95" },
    release: { type: "string", description: "what uname -r says in L1 (make kernelrelease), e.g. 6.12.95-tcespec" },
    source: buildSourceSchema("'Debian linux 6.12.95-1~bpo12+1'"),
    patches: patchesSchema,
    kasan: { type: "boolean", description: "built with KASAN (generic, outline): its reports are host-crash verdicts" },
    rules: { enum: KERNEL_RULES_NAMES, description: "the model's host-kernel rules this kernel stands for (--kernel-rules at build time; default linux-6)" },
    artifact: {
      type: "object",
      additionalProperties: false,
      required: ["key", "bytes"],
      properties: { key: { type: "string", pattern: "^[0-9a-f]{16}$" }, bytes: { type: "integer" } },
    },
    built: { type: "string" },
  },
} as const;

export interface KernelBuildManifest {
  version: 1;
  name: string;
  base: string;
  release: string;
  source: { label: string; debian?: string; dir?: string };
  patches: { name: string; path: string; sha256: string }[];
  kasan: boolean;
  rules: KernelRulesName;
  artifact: { key: string; bytes: number };
  built: string;
}
