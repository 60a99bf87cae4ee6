// The manifest of a QEMU build in the cache (`tcespec qemu build`): what it was built from, with
// which patches, for which targets; a run that uses the build names all of it.
/** What a build from source (QEMU or a kernel) was built from: the source as reports name it. */
export const buildSourceSchema = (example: string) =>
  ({
    type: "object",
    additionalProperties: false,
    required: ["label"],
    properties: {
      label: { type: "string", description: `how reports name the source: ${example} or a directory and its revision` },
      debian: { type: "string", description: "the Debian source package version" },
      dir: { type: "string" },
    },
  }) as const;

/** The user's patches of a build, in the order they were applied. */
export const patchesSchema = {
  type: "array",
  items: {
    type: "object",
    additionalProperties: false,
    required: ["name", "path", "sha256"],
    properties: { name: { type: "string" }, path: { type: "string" }, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
  },
} as const;

export const qemuBuildSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/qemu-build.schema.json",
  title: "tcespec QEMU build manifest",
  type: "object",
  additionalProperties: false,
  required: ["version", "name", "base", "source", "patches", "targets", "built"],
  properties: {
    version: { const: 1 },
    name: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$" },
    base: { type: "string", description: "QEMU's own version of the source (its VERSION file), e.g. 7.2.22" },
    source: buildSourceSchema("'Debian qemu 1:7.2+dfsg-7+deb12u18'"),
    patches: patchesSchema,
    targets: {
      type: "object",
      additionalProperties: false,
      properties: { tcg: { $ref: "#/definitions/artifact" }, kvm: { $ref: "#/definitions/artifact" } },
    },
    built: { type: "string" },
  },
  definitions: {
    artifact: {
      type: "object",
      additionalProperties: false,
      required: ["key", "bytes"],
      properties: { key: { type: "string", pattern: "^[0-9a-f]{16}$" }, bytes: { type: "integer" } },
    },
  },
} as const;

export type BuildTarget = "tcg" | "kvm";

export interface QemuBuildManifest {
  version: 1;
  name: string;
  base: string;
  source: { label: string; debian?: string; dir?: string };
  patches: { name: string; path: string; sha256: string }[];
  targets: Partial<Record<BuildTarget, { key: string; bytes: number }>>;
  built: string;
}
