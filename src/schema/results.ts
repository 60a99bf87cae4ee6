import { PROFILE_NAMES } from "../profile-names.js";
// The JSON report (LANGUAGE.md, "The command line and the JSON report"), with added fields.
const expectation = {
  type: "object",
  additionalProperties: false,
  required: ["line", "column", "outcome", "expected", "actual"],
  properties: {
    line: { type: "integer", minimum: 1 },
    column: { type: "integer", minimum: 1 },
    outcome: { enum: ["matched", "diverged", "skipped", "xfail", "xpass"] },
    expected: { type: "string" },
    actual: { type: "string" },
    op: { enum: ["==", "!="] },
    source: { type: "string" },
    action: { type: "boolean" },
    xfail: { type: "string" },
    note: { type: "string", description: "what a real backend saw beside its answer: how much a probe looked at, where it differed" },
    steps: { type: "array", items: { type: "string" } },
    stepsOmitted: { type: "integer", minimum: 0 },
    state: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["liobn", "phb", "window", "placement", "windowSize", "pageSize", "hardware", "rows", "more"],
        properties: {
          liobn: { type: "string" },
          phb: { type: "integer", minimum: 0 },
          window: { type: "integer", minimum: 0 },
          placement: { enum: ["kvm", "userspace"] },
          windowSize: { type: "string" },
          pageSize: { type: "string" },
          hardware: { type: "boolean" },
          rows: {
            type: "array",
            items: {
              type: "object",
              additionalProperties: false,
              required: ["ioba", "count", "guest", "differs"],
              properties: {
                ioba: { type: "string" },
                count: { type: "integer", minimum: 1 },
                guest: { type: "string" },
                hw: { type: "string" },
                differs: { type: "boolean" },
              },
            },
          },
          more: { type: "integer", minimum: 0 },
        },
      },
    },
  },
} as const;

export const resultsSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/results.schema.json",
  title: "tcespec results",
  type: "object",
  additionalProperties: false,
  required: ["summary", "runs", "errors"],
  properties: {
    tool: {
      type: "object",
      additionalProperties: false,
      required: ["name", "version"],
      properties: { name: { const: "tcespec" }, version: { type: "string" } },
    },
    summary: {
      type: "object",
      additionalProperties: false,
      required: ["files", "specs", "runs", "passed", "diverged", "errors"],
      properties: {
        files: { type: "integer", minimum: 0 },
        specs: { type: "integer", minimum: 0 },
        runs: { type: "integer", minimum: 0 },
        passed: { type: "integer", minimum: 0 },
        diverged: { type: "integer", minimum: 0 },
        errors: { type: "integer", minimum: 0 },
        unsupported: { type: "integer", minimum: 0 },
        disagreements: { type: "integer", minimum: 0 },
      },
    },
    backends: {
      type: "array",
      description: "each backend that ran; for real software, what judged it, as that software reports itself",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "real"],
        properties: {
          name: { type: "string" },
          real: { type: "boolean" },
          qemu: { type: "string", description: "the QEMU that ran the guests, from its --version" },
          kernel: { type: "string", description: "the kernel whose KVM ran the guests, from uname -r there" },
          where: { type: "string", description: "the binary, or L1's image" },
        },
      },
    },
    runs: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["file", "spec", "profile", "status", "expectations"],
        properties: {
          file: { type: "string" },
          suite: { type: "string" },
          spec: { type: "string" },
          tags: { type: "array", items: { type: "string" } },
          profile: { enum: [...PROFILE_NAMES] },
          backend: { type: "string" },
          status: { enum: ["passed", "diverged", "error", "unsupported"] },
          reason: { type: "string" },
          expectations: { type: "array", items: expectation },
        },
      },
    },
    disagreements: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["file", "spec", "profile", "backend", "line", "column", "model", "actual"],
        properties: {
          file: { type: "string" },
          spec: { type: "string" },
          profile: { type: "string" },
          backend: { type: "string" },
          line: { type: "integer", minimum: 1 },
          column: { type: "integer", minimum: 1 },
          source: { type: "string" },
          model: { type: "string" },
          actual: { type: "string" },
        },
      },
    },
    errors: {
      type: "array",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["file", "line", "column", "message"],
        properties: {
          file: { type: "string" },
          line: { type: "integer", minimum: 1 },
          column: { type: "integer", minimum: 1 },
          message: { type: "string" },
        },
      },
    },
  },
} as const;
