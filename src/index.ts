// The package's public API: compile spec text, run it on the model, report.
export { compileSource, parseSource, type CompileResult } from "./compile/index.js";
export { formatDiagnostic, type Diagnostic } from "./compile/diagnostics.js";
export type { SpecFile, Statement, Expectation } from "./compile/ast.js";
export type { Program, CompiledSpec, Step, Probe } from "./compile/program.js";
export { Engine } from "./engine/engine.js";
export * from "./engine/types.js";
export { ModelBackend } from "./backends/model.js";
export { run, compileFiles, type Report, type RunOptions } from "./run/runner.js";
export type { RunResult, ExpectationOutcome } from "./verdict/outcome.js";
export { formatPretty } from "./report/pretty.js";
export { formatJson, jsonReport } from "./report/json.js";
export { formatJunit } from "./report/junit.js";
export { formatTap } from "./report/tap.js";
export { formatMatrixMarkdown, formatMatrixHtml } from "./report/matrix.js";
export { main } from "./cli.js";
