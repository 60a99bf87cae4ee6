// A stand-in for VS Code's extension host, enough to run the packaged extension as VS Code would:
// it loads the file the package's `main` names, answers `require("vscode")` with the little of the
// API the language client touches (everything else is an inert stand-in), activates the extension,
// opens one document and prints, as JSON, the providers the client registered and the diagnostics
// it set. Any other module the package requires is an error: VS Code gives it nothing else.
//   node vscode-host.cjs EXTENSION_MAIN FILE COMMAND…
const Module = require("node:module");
const { readFileSync } = require("node:fs");
const { pathToFileURL } = require("node:url");

const [main, file, ...command] = process.argv.slice(2);
const registered = [];
const diagnostics = [];
const listeners = { open: [] };

/** Any name of the API not given below: callable, constructible, never a promise, empty when iterated. */
function inert(name, own = {}) {
  return new Proxy(function () {}, {
    get(_t, key) {
      if (key in own) return own[key];
      if (key === "then") return undefined;
      if (key === Symbol.iterator) return function* () {};
      if (key === Symbol.toPrimitive) return () => name;
      return inert(`${name}.${String(key)}`);
    },
    apply() {
      if (/^vscode\.languages\.register/.test(name)) registered.push(name.slice("vscode.languages.register".length));
      return inert(`${name}()`);
    },
    construct() {
      return inert(`new ${name}`);
    },
  });
}

class CancellationTokenSource {
  constructor() {
    this.token = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
  }
  cancel() {
    this.token.isCancellationRequested = true;
  }
  dispose() {}
}
class Position {
  constructor(line, character) {
    Object.assign(this, { line, character });
  }
}
class Range {
  constructor(a, b, c, d) {
    Object.assign(this, typeof a === "number" ? { start: new Position(a, b), end: new Position(c, d) } : { start: a, end: b });
  }
}
class Diagnostic {
  constructor(range, message, severity) {
    Object.assign(this, { range, message, severity });
  }
}
const uriOf = (s) => ({ toString: () => s, fsPath: new URL(s).pathname, scheme: "file" });

const vscode = inert("vscode", {
  version: "1.95.0",
  CancellationTokenSource,
  Position,
  Range,
  Diagnostic,
  Uri: { parse: uriOf },
  workspace: inert("vscode.workspace", {
    getConfiguration: () => ({ get: () => command }),
    workspaceFolders: undefined,
    textDocuments: [],
    onDidOpenTextDocument: (listener) => (listeners.open.push(listener), { dispose() {} }),
  }),
  languages: inert("vscode.languages", {
    match: () => 10,
    createDiagnosticCollection: () =>
      inert("collection", {
        set: (uri, list) =>
          diagnostics.push({ uri: String(uri), list: list.map((d) => ({ message: d.message, line: d.range.start.line, character: d.range.start.character })) }),
      }),
  }),
});

const load = Module._load;
Module._load = function (request, parent, ...rest) {
  if (request === "vscode") return vscode;
  if (parent && parent.filename === main && !Module.isBuiltin(request)) throw new Error(`the package requires ${request}, which VS Code does not give it`);
  return load.call(this, request, parent, ...rest);
};

const fail = (why) => {
  console.log(JSON.stringify({ error: String(why) }));
  process.exit(1);
};
setTimeout(() => fail("no diagnostics within 20 s"), 20000).unref();
(async () => {
  const extension = require(main);
  await extension.activate();
  const text = readFileSync(file, "utf8");
  const uri = uriOf(pathToFileURL(file).href);
  const document = { uri, languageId: "tcespec", version: 1, getText: () => text, fileName: file, isUntitled: false, lineCount: text.split("\n").length };
  for (const listener of listeners.open) listener(document);
  while (diagnostics.length === 0) await new Promise((r) => setTimeout(r, 50));
  await extension.deactivate();
  console.log(JSON.stringify({ registered, diagnostics }));
  process.exit(0);
})().catch(fail);
