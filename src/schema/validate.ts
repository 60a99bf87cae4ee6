// Every JSON that crosses a boundary is checked against its schema with ajv.
import { Ajv, type ValidateFunction } from "ajv";

const ajv = new Ajv({ allErrors: true, strict: true });

export interface Validator<T> {
  (value: unknown): value is T;
  /** A one-line summary of what failed, or undefined. */
  explain(value: unknown): string | undefined;
}

export function validator<T>(schema: object): Validator<T> {
  const compiled: ValidateFunction = ajv.compile(schema);
  const check = ((value: unknown) => compiled(value)) as Validator<T>;
  check.explain = (value) => {
    if (compiled(value)) return undefined;
    return (compiled.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ");
  };
  return check;
}
