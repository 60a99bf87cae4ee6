// A worker thread of `--jobs N`: runs the spec × profile tasks it is sent on the model.
import { parentPort } from "node:worker_threads";
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import { ModelBackend } from "../backends/model.js";
import { errorRun } from "./runner.js";

export interface Task {
  id: number;
  spec: CompiledSpec;
  profile: ProfileName;
  bail: boolean;
}

parentPort?.on("message", (tasks: Task[]) => {
  const results = tasks.map((task) => {
    try {
      return { id: task.id, result: new ModelBackend(task.bail).runSync(task.spec, task.profile) };
    } catch (error) {
      return { id: task.id, result: errorRun(task.spec, task.profile, "model", error) };
    }
  });
  parentPort!.postMessage(results);
});
