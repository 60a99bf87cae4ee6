// Where `tcespec explore` stopped, written into its --out folder so `--resume` goes on with the
// same seed's sequence (the generator's state, and the choices steering had dropped).
export const exploreStateSchema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: "https://tcespec.dev/schema/explore-state.schema.json",
  title: "tcespec explore state",
  type: "object",
  additionalProperties: false,
  required: ["version", "seed", "tried", "random", "avoid", "written", "signatures", "command"],
  properties: {
    version: { const: 1 },
    seed: { type: "integer", minimum: 0 },
    tried: { type: "integer", minimum: 0, description: "scenarios generated so far, over every run of this sequence" },
    random: { type: "integer", minimum: 0, maximum: 4294967295, description: "the generator's 32-bit state after them" },
    avoid: { type: "object", additionalProperties: { type: "string" }, description: "generator choices steered away from, each with the reason it could not run" },
    written: { type: "integer", minimum: 0, description: "finding files written into the folder so far (numbering goes on)" },
    signatures: { type: "array", items: { type: "string" }, description: "what those files found: a later run reports them as known" },
    command: { type: "string", description: "the command of the last run" },
  },
} as const;
