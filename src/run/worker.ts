// A worker thread of `--jobs N`: makes the backend it is told, runs the tasks it is sent.
import { parentPort } from "node:worker_threads";
import { createBackend } from "../backends/index.js";
import type { BackendRecipe, Task } from "../backends/backend.js";
import { errorRun, type RunResult } from "../verdict/outcome.js";

export interface WorkerJob {
  recipe: BackendRecipe;
  tasks: (Task & { id: number })[];
}

export interface WorkerAnswer {
  id: number;
  result: RunResult;
}

parentPort?.on("message", async ({ recipe, tasks }: WorkerJob) => {
  const backend = await createBackend(recipe.name, recipe.options);
  const answers: WorkerAnswer[] = [];
  for (const task of tasks) {
    try {
      answers.push({ id: task.id, result: backend.runSync ? backend.runSync(task.spec, task.profile) : await backend.run(task.spec, task.profile) });
    } catch (error) {
      answers.push({ id: task.id, result: errorRun(task.spec, task.profile, backend.name, error) });
    }
  }
  parentPort!.postMessage(answers);
});
