import { PROFILE_NAMES } from "../profile-names.js";
// The migration stream: the whole IOMMU state a destination QEMU receives.
export const migrationSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/migration.schema.json",
  title: "tcespec migration stream",
  type: "object",
  additionalProperties: false,
  required: ["version", "profile", "machine", "phbs"],
  properties: {
    version: { const: 1 },
    profile: { enum: [...PROFILE_NAMES] },
    machine: {
      type: "object",
      additionalProperties: false,
      required: ["accel", "caps"],
      properties: {
        accel: { enum: ["kvm", "tcg"] },
        caps: { type: "array", items: { enum: ["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"] } },
        ram: { type: "string", pattern: "^0x[0-9a-f]+$", description: "the guest's RAM in bytes, when the spec set it" },
      },
    },
    phbs: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "index", "dma32", "pageShift", "ddw", "windows", "devices"],
        properties: {
          name: { type: "string" },
          index: { type: "integer", minimum: 0, maximum: 30 },
          dma32: { $ref: "#/definitions/hex" },
          pageShift: { type: "integer", minimum: 0, maximum: 63 },
          ddw: { type: "boolean" },
          windows: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["window", "busOffset", "pageShift", "entryCount", "entries"],
              properties: {
                window: { type: "integer", minimum: 0, maximum: 1 },
                busOffset: { $ref: "#/definitions/hex" },
                pageShift: { type: "integer", minimum: 0, maximum: 63 },
                entryCount: { $ref: "#/definitions/hex" },
                entries: {
                  type: "array",
                  items: {
                    type: "array",
                    description: "[first index, TCE] or, for a run of equal entries, [first index, TCE, count]",
                    anyOf: [
                      { items: [{ type: "integer", minimum: 0 }, { $ref: "#/definitions/hex" }], minItems: 2, maxItems: 2 },
                      {
                        items: [{ type: "integer", minimum: 0 }, { $ref: "#/definitions/hex" }, { type: "integer", minimum: 1 }],
                        minItems: 3,
                        maxItems: 3,
                      },
                    ],
                  },
                },
              },
            },
          },
          devices: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["name", "kind"],
              properties: { name: { type: "string" }, kind: { const: "emulated" } },
            },
          },
        },
      },
    },
  },
  definitions: {
    hex: { type: "string", pattern: "^0x[0-9a-f]+$" },
  },
} as const;
