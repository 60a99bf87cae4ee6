// Expected values: what each probe can answer, and the canonical text actual values are compared with.
import type * as A from "./ast.js";
import type { Expected } from "./program.js";
import { hex, isHcallCode, isRtasStatus } from "../values.js";
import { unreachable } from "../unreachable.js";

export type Accepted = "hcall" | "rtas" | "number" | "tce" | "fault" | "migrate";

const MEANING: Record<Accepted, string> = {
  hcall: "a return code (H_…)",
  rtas: "an RTAS status (RTAS_…)",
  number: "a number",
  tce: "a TCE value",
  fault: "an address or 'fault'",
  migrate: "'ok' or 'blocked'",
};

/** The expected value in canonical form, or a diagnostic when it cannot be what `what` answers. */
export function expectedValue(
  value: A.ExpectedValue,
  op: A.Comparison,
  what: string,
  accepts: Accepted[],
  error: (pos: A.Pos, message: string) => void,
): Expected | undefined {
  const fail = () => {
    error(value, `${what} answers ${accepts.map((k) => MEANING[k]).join(" or ")}`);
    return undefined;
  };
  switch (value.kind) {
    case "code":
      if (isHcallCode(value.code) && accepts.includes("hcall")) return { op, text: value.code };
      if (isRtasStatus(value.code) && accepts.includes("rtas")) return { op, text: value.code };
      if (!isHcallCode(value.code) && !isRtasStatus(value.code)) {
        error(value, `unknown return code '${value.code}'`);
        return undefined;
      }
      return fail();
    case "number":
      if (accepts.includes("tce") || (accepts.includes("fault") && !value.hasPermission)) return { op, text: hex(value.value) };
      if (accepts.includes("number") && !value.hasPermission) return { op, text: value.value.toString() };
      return fail();
    case "word":
      if (value.word === "fault" && accepts.includes("fault")) return { op, text: "fault" };
      if (value.word !== "fault" && accepts.includes("migrate")) return { op, text: value.word };
      return fail();
    default:
      return unreachable(value);
  }
}
