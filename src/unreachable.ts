// The default of a switch that handles every member of a union: there `x` has type never, so a
// member added to the union and not handled is a compile error, and at run time an internal error.
export function unreachable(x: never): never {
  throw new Error(`internal: unhandled ${JSON.stringify(x, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`);
}
