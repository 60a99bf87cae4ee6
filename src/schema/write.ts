// Writes the schemas users read (schema/*.json) from the ones the code uses. `npm run schemas`.
import { writeFileSync } from "node:fs";
import { resultsSchema } from "./results.js";
import { migrationSchema } from "./migration.js";
import { kvmImageSchema } from "./kvm-image.js";
import { qemuBuildSchema } from "./qemu-build.js";
import { kernelBuildSchema } from "./kernel-build.js";
import { exploreStateSchema } from "./explore-state.js";

export const SCHEMA_FILES: Record<string, object> = {
  "schema/results.schema.json": resultsSchema,
  "schema/migration.schema.json": migrationSchema,
  "schema/kvm-image.schema.json": kvmImageSchema,
  "schema/qemu-build.schema.json": qemuBuildSchema,
  "schema/kernel-build.schema.json": kernelBuildSchema,
  "schema/explore-state.schema.json": exploreStateSchema,
};

export function schemaText(schema: object): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1]?.endsWith("write.ts") || process.argv[1]?.endsWith("write.js")) {
  for (const [path, schema] of Object.entries(SCHEMA_FILES)) writeFileSync(path, schemaText(schema));
}
