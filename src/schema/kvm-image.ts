// The manifest of a cached L1 image: what it was built from, and the checksums its files must have.
/** Debian packages by name and version: what a cached image or QEMU was made from. */
export const PACKAGE_LIST = {
  type: "array",
  items: {
    type: "object",
    additionalProperties: false,
    required: ["name", "version"],
    properties: { name: { type: "string" }, version: { type: "string" } },
  },
} as const;

export const kvmImageSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/kvm-image.schema.json",
  title: "tcespec L1 image manifest",
  type: "object",
  additionalProperties: false,
  required: ["version", "kernel", "qemu", "packages", "files", "shim", "built"],
  properties: {
    version: { const: 1 },
    kernel: { type: "string", description: "the kernel's version string, as in linux-image-VERSION" },
    qemu: { type: "string", description: "the qemu-system-ppc package version inside L1" },
    packages: PACKAGE_LIST,
    files: {
      type: "object",
      additionalProperties: false,
      required: ["vmlinux", "initramfs"],
      properties: {
        vmlinux: { $ref: "#/definitions/file" },
        initramfs: { $ref: "#/definitions/file" },
      },
    },
    shim: { type: "boolean", description: "whether the capability shim is in the image" },
    shimSource: { type: "string", pattern: "^[0-9a-f]{12}$", description: "the shim's source (sha256, 12 digits): an image whose shim is older is built again" },
    built: { type: "string" },
  },
  definitions: {
    file: {
      type: "object",
      additionalProperties: false,
      required: ["name", "sha256", "bytes"],
      properties: { name: { type: "string" }, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" }, bytes: { type: "integer" } },
    },
  },
} as const;

export interface KvmImageManifest {
  version: 1;
  kernel: string;
  qemu: string;
  packages: { name: string; version: string }[];
  files: { vmlinux: ImageFile; initramfs: ImageFile };
  shim: boolean;
  shimSource?: string;
  built: string;
}

export interface ImageFile {
  name: string;
  sha256: string;
  bytes: number;
}
